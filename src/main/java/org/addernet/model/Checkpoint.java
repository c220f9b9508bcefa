package org.addernet.model;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;
import org.addernet.engine.Params;

/**
 * Our checkpoint format, version 1 (no Java serialization; readable from any language):
 * <pre>
 *   8 bytes   magic "ADDERCKP"
 *   int32     format version (1)
 *   int32     header length L, then L bytes of UTF-8 header text, one "key=value" per line:
 *               meta.&lt;key&gt;=value            model name, epoch, step, seed, config keys, ...
 *               tensor=&lt;name&gt;;&lt;d0,d1,...&gt;    one line per tensor, in payload order
 *   payload   each tensor's float32 values, row-major
 *   int64     CRC-32 of every byte before it
 * </pre>
 * All numbers are big-endian (Java {@code DataOutput}). Tensors hold the parameters and BN buffers under their
 * PyTorch names and the optimizer's momentum buffer as {@code optimizer.momentum_buffer} (flat, parameter order).
 * Files are written through {@link org.addernet.train.RunFiles}, atomically (temporary file, then rename).
 */
public final class Checkpoint {
    static final byte[] MAGIC = "ADDERCKP".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    public static final String MOMENTUM = "optimizer.momentum_buffer";

    public record Entry(int[] shape, float[] values) {}

    private final Map<String, String> meta;
    private final Map<String, Entry> tensors;

    public Checkpoint(Map<String, String> meta, Map<String, Entry> tensors) {
        this.meta = new TreeMap<>(meta);
        this.tensors = new LinkedHashMap<>(tensors);
    }

    public Map<String, String> meta() { return meta; }
    public Map<String, Entry> tensors() { return tensors; }

    /** Snapshot of a model (weights, BN buffers, {@code num_batches_tracked}) and optimizer momentum. */
    public static Checkpoint of(Model m, float[] momentum, Map<String, String> meta) {
        Params p = m.params();
        Map<String, Entry> t = new LinkedHashMap<>();
        for (Params.View v : p.params()) t.put(v.name(), new Entry(v.shape(), slice(p.data, v)));
        for (Params.View v : p.bufferViews()) t.put(v.name(), new Entry(v.shape(), slice(p.buffers, v)));
        if (momentum != null) t.put(MOMENTUM, new Entry(new int[] {momentum.length}, momentum.clone()));
        Map<String, String> md = new TreeMap<>(meta);
        md.put("model", m.name());
        md.put("classes", Integer.toString(m.classes()));
        md.put("num_batches_tracked", Long.toString(m.numBatchesTracked()));
        return new Checkpoint(md, t);
    }

    private static float[] slice(float[] a, Params.View v) {
        float[] r = new float[v.size()];
        System.arraycopy(a, v.offset(), r, 0, r.length);
        return r;
    }

    /** Copies weights, buffers and {@code num_batches_tracked} into {@code m}; every tensor must match by name and shape. */
    public void restoreInto(Model m, String source) {
        if (!m.name().equals(meta.get("model"))) {
            throw new IllegalArgumentException(source + " holds model '" + meta.get("model") + "', expected '" + m.name() + "'");
        }
        Params p = m.params();
        List<Params.View> all = new ArrayList<>(p.params());
        all.addAll(p.bufferViews());
        for (Params.View v : all) {
            Entry e = tensors.get(v.name());
            if (e == null) throw new IllegalArgumentException(source + " has no tensor '" + v.name() + "'");
            if (!java.util.Arrays.equals(e.shape(), v.shape())) {
                throw new IllegalArgumentException(source + ": tensor '" + v.name() + "' has shape " + java.util.Arrays.toString(e.shape())
                        + ", model expects " + java.util.Arrays.toString(v.shape()));
            }
            System.arraycopy(e.values(), 0, p.arrayOf(v), v.offset(), v.size());
        }
        m.setNumBatchesTracked(Long.parseLong(meta.getOrDefault("num_batches_tracked", "0")));
    }

    public void write(OutputStream out) throws IOException {
        CheckedOutputStream checked = new CheckedOutputStream(new BufferedOutputStream(out, 1 << 16), new CRC32());
        DataOutputStream d = new DataOutputStream(checked);
        StringBuilder header = new StringBuilder();
        for (Map.Entry<String, String> e : meta.entrySet()) {
            String v = e.getValue();
            if (e.getKey().contains("\n") || e.getKey().contains("=") || v.contains("\n")) {
                throw new IllegalArgumentException("checkpoint metadata must be single-line key=value: " + e.getKey());
            }
            header.append("meta.").append(e.getKey()).append('=').append(v).append('\n');
        }
        for (Map.Entry<String, Entry> e : tensors.entrySet()) {
            header.append("tensor=").append(e.getKey()).append(';').append(joinShape(e.getValue().shape())).append('\n');
        }
        byte[] hb = header.toString().getBytes(StandardCharsets.UTF_8);
        d.write(MAGIC);
        d.writeInt(VERSION);
        d.writeInt(hb.length);
        d.write(hb);
        byte[] buf = new byte[1 << 16];
        for (Entry e : tensors.values()) {
            float[] v = e.values();
            int i = 0;
            while (i < v.length) {
                int n = Math.min(buf.length / 4, v.length - i);
                for (int j = 0; j < n; j++) {
                    int bits = Float.floatToRawIntBits(v[i + j]);
                    buf[4 * j] = (byte) (bits >>> 24);
                    buf[4 * j + 1] = (byte) (bits >>> 16);
                    buf[4 * j + 2] = (byte) (bits >>> 8);
                    buf[4 * j + 3] = (byte) bits;
                }
                d.write(buf, 0, 4 * n);
                i += n;
            }
        }
        d.flush();
        long crc = checked.getChecksum().getValue();
        d.writeLong(crc);
        d.flush();
    }

    /** Reads a checkpoint; {@code source} names the file in every error. */
    public static Checkpoint read(InputStream in, String source) throws IOException {
        CheckedInputStream checked = new CheckedInputStream(new BufferedInputStream(in, 1 << 16), new CRC32());
        DataInputStream d = new DataInputStream(checked);
        try {
            byte[] magic = new byte[MAGIC.length];
            d.readFully(magic);
            if (!java.util.Arrays.equals(magic, MAGIC)) throw new IOException(source + " is not an addernet checkpoint (bad magic)");
            int version = d.readInt();
            if (version != VERSION) throw new IOException(source + ": unsupported checkpoint version " + version + " (this build reads " + VERSION + ")");
            int hl = d.readInt();
            if (hl < 0 || hl > (64 << 20)) throw new IOException(source + ": corrupt header length " + hl);
            byte[] hb = new byte[hl];
            d.readFully(hb);
            Map<String, String> meta = new TreeMap<>();
            List<String> names = new ArrayList<>();
            List<int[]> shapes = new ArrayList<>();
            for (String line : new String(hb, StandardCharsets.UTF_8).split("\n")) {
                if (line.isEmpty()) continue;
                if (line.startsWith("meta.")) {
                    int eq = line.indexOf('=');
                    if (eq < 0) throw new IOException(source + ": corrupt header line '" + line + "'");
                    meta.put(line.substring(5, eq), line.substring(eq + 1));
                } else if (line.startsWith("tensor=")) {
                    int semi = line.lastIndexOf(';');
                    if (semi < 0) throw new IOException(source + ": corrupt header line '" + line + "'");
                    names.add(line.substring(7, semi));
                    shapes.add(parseShape(line.substring(semi + 1), source));
                } else {
                    throw new IOException(source + ": corrupt header line '" + line + "'");
                }
            }
            Map<String, Entry> tensors = new LinkedHashMap<>();
            byte[] buf = new byte[1 << 16];
            for (int t = 0; t < names.size(); t++) {
                int[] shape = shapes.get(t);
                long count = 1;
                for (int s : shape) count *= s;
                if (count > Integer.MAX_VALUE) throw new IOException(source + ": tensor " + names.get(t) + " too large");
                float[] v = new float[(int) count];
                int i = 0;
                while (i < v.length) {
                    int n = Math.min(buf.length / 4, v.length - i);
                    d.readFully(buf, 0, 4 * n);
                    for (int j = 0; j < n; j++) {
                        int bits = ((buf[4 * j] & 0xff) << 24) | ((buf[4 * j + 1] & 0xff) << 16) | ((buf[4 * j + 2] & 0xff) << 8) | (buf[4 * j + 3] & 0xff);
                        v[i + j] = Float.intBitsToFloat(bits);
                    }
                    i += n;
                }
                tensors.put(names.get(t), new Entry(shape, v));
            }
            long computed = checked.getChecksum().getValue();
            long stored = d.readLong();
            if (stored != computed) {
                throw new IOException(source + ": checksum mismatch (stored " + Long.toHexString(stored) + ", computed "
                        + Long.toHexString(computed) + "): the file is corrupt");
            }
            if (d.read() != -1) throw new IOException(source + ": trailing bytes after the checksum");
            return new Checkpoint(meta, tensors);
        } catch (EOFException e) {
            throw new IOException(source + " is truncated", e);
        }
    }

    private static String joinShape(int[] s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length; i++) b.append(i > 0 ? "," : "").append(s[i]);
        return b.toString();
    }

    private static int[] parseShape(String s, String source) throws IOException {
        if (s.isEmpty()) return new int[0];
        String[] parts = s.split(",");
        int[] r = new int[parts.length];
        try {
            for (int i = 0; i < parts.length; i++) {
                r[i] = Integer.parseInt(parts[i]);
                if (r[i] < 0) throw new NumberFormatException();
            }
        } catch (NumberFormatException e) {
            throw new IOException(source + ": corrupt tensor shape '" + s + "'");
        }
        return r;
    }

}
