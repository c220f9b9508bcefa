package org.addernet.interop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.addernet.interop.RestrictedUnpickler.StorageRef;
import org.addernet.interop.RestrictedUnpickler.TensorRef;
import org.addernet.interop.RestrictedUnpickler.Tuple;

/**
 * PyTorch state_dict files, name to tensor in file order. Reads the three formats, told apart by their first bytes:
 * <ul>
 *   <li>zip {@code torch.save} (PyTorch &ge; 1.6): {@code <root>/data.pkl} is the pickled dict, each storage
 *       {@code <root>/data/<key>} raw little-endian; every entry's CRC-32 is checked;</li>
 *   <li>legacy {@code torch.save}: five pickles back to back (magic number, protocol 1001, system info, the dict,
 *       the list of storage keys), then each storage as an int64 element count and its raw bytes, in that order;</li>
 *   <li>{@code .safetensors}: a little-endian uint64 header length, a JSON header {@code name -> {dtype, shape,
 *       data_offsets}}, the data.</li>
 * </ul>
 * Writes all three ({@code torch.load(f, weights_only=True)} reads both {@code torch.save} formats, PyTorch 1.13
 * included). Every error names the file; nothing in a file is ever run (see {@link RestrictedUnpickler}).
 */
public final class TorchFiles {
    /** {@code torch.serialization.MAGIC_NUMBER} of the legacy format. */
    static final BigInteger LEGACY_MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    static final long LEGACY_PROTOCOL = 1001;
    /** Files larger than this are refused rather than read into memory (a ResNet-50 is ~100 MB). */
    static final long MAX_BYTES = Integer.MAX_VALUE - 8;
    private static final ObjectMapper JSON = new ObjectMapper();

    private TorchFiles() {}

    /** The tensors of {@code file}, in file order. */
    public static Map<String, TorchTensor> read(Path file) throws IOException {
        String src = file.toString();
        if (!Files.isRegularFile(file)) throw new IOException(src + ": no such file");
        long size = Files.size(file);
        if (size > MAX_BYTES) throw new IOException(src + " is too large (" + size + " bytes)");
        byte[] head = new byte[(int) Math.min(16, size)];
        try (InputStream in = Files.newInputStream(file)) {
            in.readNBytes(head, 0, head.length);
        }
        if (head.length >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return readZip(file);
        byte[] all = Files.readAllBytes(file);
        // Safetensors first: its first byte is the low byte of the header length, which may well be 0x80, while a
        // legacy torch.save starts 80 02 8a 0a and then the magic number, whose fifth byte (file byte 8) is 0xf9.
        if (all.length >= 9 && all[8] == '{') return readSafetensors(all, src);
        if (all.length >= 2 && (all[0] & 0xff) == 0x80) return readLegacy(all, src);
        throw new IOException(src + " is not a PyTorch state_dict (zip or legacy torch.save) nor a .safetensors file");
    }

    // ---- zip torch.save ----

    private static Map<String, TorchTensor> readZip(Path file) throws IOException {
        String src = file.toString();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            String root = null;
            for (Iterator<? extends ZipEntry> it = zip.entries().asIterator(); it.hasNext(); ) {
                String n = it.next().getName();
                int slash = n.indexOf('/');
                if (slash > 0 && n.substring(slash + 1).equals("data.pkl")) {
                    if (root != null) throw new IOException(src + ": more than one data.pkl in the zip");
                    root = n.substring(0, slash + 1);
                }
            }
            if (root == null) throw new IOException(src + " is a zip file but not a torch.save archive (no <name>/data.pkl)");
            ZipEntry order = zip.getEntry(root + "byteorder");
            if (order != null && !new String(entry(zip, order, src), StandardCharsets.US_ASCII).trim().equals("little")) {
                throw new IOException(src + ": big-endian torch.save archives are not supported");
            }
            byte[] pkl = entry(zip, zip.getEntry(root + "data.pkl"), src);
            Map<String, TorchTensor.DType> types = new HashMap<>();
            RestrictedUnpickler.PersistentLoader loader = pid -> {
                // ('storage', storage_type, key, location, numel)
                Tuple t = storageId(pid, 5, src);
                StorageRef s = new StorageRef(storageType(t.get(1), src), (String) t.get(2), (Long) t.get(4), 0);
                types.put(s.key(), s.dtype());
                return s;
            };
            Object obj = new RestrictedUnpickler(src, ByteBuffer.wrap(pkl), loader).load();
            Map<String, TensorRef> refs = stateDict(obj, src);
            Map<String, ByteBuffer> storages = new HashMap<>();
            Map<String, TorchTensor> out = new LinkedHashMap<>();
            for (Map.Entry<String, TensorRef> e : refs.entrySet()) {
                StorageRef s = e.getValue().storage();
                ByteBuffer data = storages.get(s.key());
                if (data == null) {
                    ZipEntry ze = zip.getEntry(root + "data/" + s.key());
                    if (ze == null) throw new IOException(src + ": storage " + s.key() + " of tensor '" + e.getKey() + "' is missing from the zip");
                    data = ByteBuffer.wrap(entry(zip, ze, src));
                    storages.put(s.key(), data);
                }
                if ((long) data.capacity() < s.numel() * s.dtype().size) {
                    throw new IOException(src + ": storage " + s.key() + " holds " + data.capacity() + " bytes, its tensors need " + s.numel() * s.dtype().size);
                }
                out.put(e.getKey(), tensor(e.getValue(), data, 0));
            }
            return out;
        } catch (ZipException e) {
            throw new IOException(src + " is a corrupt zip file (" + e.getMessage() + ")", e);
        }
    }

    /** An entry's bytes, its CRC-32 checked (java.util.zip does not check stored entries read through ZipFile). */
    private static byte[] entry(ZipFile zip, ZipEntry e, String src) throws IOException {
        byte[] b;
        try (InputStream in = zip.getInputStream(e)) {
            b = in.readAllBytes();
        } catch (ZipException | java.io.EOFException ex) {
            throw new IOException(src + ": corrupt zip entry " + e.getName() + " (" + ex.getMessage() + ")", ex);
        }
        CRC32 crc = new CRC32();
        crc.update(b);
        if (e.getCrc() != -1 && crc.getValue() != e.getCrc()) {
            throw new IOException(src + ": zip entry " + e.getName() + " fails its CRC-32 check: the file is corrupt");
        }
        return b;
    }

    // ---- legacy torch.save ----

    private static Map<String, TorchTensor> readLegacy(byte[] all, String src) throws IOException {
        ByteBuffer in = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        RestrictedUnpickler.PersistentLoader none = pid -> {
            throw new IOException(src + ": persistent id outside the state_dict");
        };
        Object magic = new RestrictedUnpickler(src, in, none).load();
        if (!LEGACY_MAGIC.equals(magic instanceof Long l ? BigInteger.valueOf(l) : magic)) {
            throw new IOException(src + " is a pickle but not a torch.save file (no magic number)");
        }
        Object protocol = new RestrictedUnpickler(src, in, none).load();
        if (!Long.valueOf(LEGACY_PROTOCOL).equals(protocol)) throw new IOException(src + ": unsupported torch.save protocol " + protocol);
        Object sysInfo = new RestrictedUnpickler(src, in, none).load();
        if (!(sysInfo instanceof Map<?, ?> info) || !Boolean.TRUE.equals(info.get("little_endian"))) {
            throw new IOException(src + ": only little-endian torch.save files are supported");
        }
        Map<String, StorageRef> roots = new LinkedHashMap<>();
        RestrictedUnpickler.PersistentLoader loader = pid -> {
            // ('storage', storage_type, root_key, location, numel, view_metadata): a view is (view_key, offset, view_size)
            Tuple t = storageId(pid, 6, src);
            TorchTensor.DType d = storageType(t.get(1), src);
            String key = (String) t.get(2);
            StorageRef root = new StorageRef(d, key, (Long) t.get(4), 0);
            StorageRef known = roots.putIfAbsent(key, root);
            if (known != null && (known.dtype() != d || known.numel() != root.numel())) throw new IOException(src + ": storage " + key + " declared twice");
            Object view = t.get(5);
            if (view == null) return root;
            if (!(view instanceof Tuple v) || v.size() != 3 || !(v.get(1) instanceof Long off) || !(v.get(2) instanceof Long n)
                    || off < 0 || off + n > root.numel()) {
                throw new IOException(src + ": malformed storage view of " + key);
            }
            return new StorageRef(d, key, n, off);
        };
        Map<String, TensorRef> refs = stateDict(new RestrictedUnpickler(src, in, loader).load(), src);
        Object keys = new RestrictedUnpickler(src, in, none).load();
        if (!(keys instanceof List<?> keyList)) throw new IOException(src + ": malformed storage key list");
        Map<String, Integer> base = new HashMap<>();
        try {
            for (Object k : keyList) {
                StorageRef s = roots.get(k);
                if (s == null) throw new IOException(src + ": storage key " + k + " is not used by the pickle");
                long n = in.getLong();
                if (n != s.numel()) throw new IOException(src + ": storage " + k + " holds " + n + " elements, the pickle says " + s.numel());
                long bytes = n * s.dtype().size;
                if (bytes > in.remaining()) throw new IOException(src + " is truncated (storage " + k + " runs past the end of the file)");
                base.put((String) k, in.position());
                in.position(in.position() + (int) bytes);
            }
        } catch (java.nio.BufferUnderflowException e) {
            throw new IOException(src + " is truncated (in the storages)", e);
        }
        Map<String, TorchTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, TensorRef> e : refs.entrySet()) {
            StorageRef s = e.getValue().storage();
            Integer at = base.get(s.key());
            if (at == null) throw new IOException(src + ": storage " + s.key() + " of tensor '" + e.getKey() + "' is missing from the file");
            out.put(e.getKey(), tensor(e.getValue(), in, at));
        }
        return out;
    }

    // ---- safetensors ----

    private static Map<String, TorchTensor> readSafetensors(byte[] all, String src) throws IOException {
        ByteBuffer bb = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        long n = bb.getLong(0);
        if (n <= 0 || n > all.length - 8) throw new IOException(src + " is truncated or not a .safetensors file (header of " + n + " bytes)");
        JsonNode header;
        try {
            header = JSON.readTree(new String(all, 8, (int) n, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IOException(src + ": corrupt .safetensors header (" + e.getMessage().split("\n")[0] + ")", e);
        }
        if (header == null || !header.isObject()) throw new IOException(src + ": corrupt .safetensors header (not a JSON object)");
        int dataStart = 8 + (int) n;
        long dataLen = all.length - dataStart;
        Map<String, TorchTensor> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (f.getKey().equals("__metadata__")) continue;
            JsonNode t = f.getValue();
            TorchTensor.DType d = TorchTensor.DType.ofSafetensorsName(t.path("dtype").asText());
            JsonNode shape = t.path("shape"), offs = t.path("data_offsets");
            if (d == null || !shape.isArray() || !offs.isArray() || offs.size() != 2) {
                throw new IOException(src + ": malformed .safetensors entry '" + f.getKey() + "' " + t);
            }
            int[] sz = new int[shape.size()];
            for (int i = 0; i < sz.length; i++) {
                if (!shape.get(i).canConvertToInt() || shape.get(i).asInt() < 0) throw new IOException(src + ": malformed shape of '" + f.getKey() + "'");
                sz[i] = shape.get(i).asInt();
            }
            long begin = offs.get(0).asLong(-1), end = offs.get(1).asLong(-1);
            long want = TorchTensor.numel(sz) * d.size;
            if (begin < 0 || end < begin || end > dataLen) {
                throw new IOException(src + " is truncated or corrupt: tensor '" + f.getKey() + "' spans bytes " + begin + ".." + end + " of " + dataLen);
            }
            if (end - begin != want) throw new IOException(src + ": tensor '" + f.getKey() + "' has " + (end - begin) + " bytes, shape " + java.util.Arrays.toString(sz) + " needs " + want);
            long[] stride = contiguousStrides(sz);
            out.put(f.getKey(), TorchTensor.gather(d, sz, bb, (int) (dataStart + begin), 0, stride));
        }
        return out;
    }

    // ---- shared ----

    private static Tuple storageId(Object pid, int fields, String src) throws IOException {
        if (!(pid instanceof Tuple t) || t.size() != fields || !"storage".equals(t.get(0)) || !(t.get(2) instanceof String)
                || !(t.get(4) instanceof Long n) || n < 0) {
            throw new IOException(src + ": malformed storage reference " + pid);
        }
        return t;
    }

    private static TorchTensor.DType storageType(Object o, String src) throws IOException {
        TorchTensor.DType d = o instanceof RestrictedUnpickler.Global g && g.module().equals("torch") ? TorchTensor.DType.ofStorageClass(g.name()) : null;
        if (d == null) throw new IOException(src + ": storage of unknown type " + o);
        return d;
    }

    /** The dict of tensors; a training checkpoint's {@code state_dict} (or {@code model}) entry also does. */
    private static Map<String, TensorRef> stateDict(Object obj, String src) throws IOException {
        if (obj instanceof Map<?, ?> m && !m.values().stream().allMatch(v -> v instanceof TensorRef)) {
            for (String k : List.of("state_dict", "model")) if (m.get(k) instanceof Map<?, ?> inner) return stateDict(inner, src);
        }
        if (!(obj instanceof Map<?, ?> m)) throw new IOException(src + " holds no state_dict (a dict of tensors)");
        Map<String, TensorRef> r = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getKey() instanceof String k) || !(e.getValue() instanceof TensorRef t)) {
                throw new IOException(src + " holds no state_dict: entry '" + e.getKey() + "' is not a tensor");
            }
            r.put(k, t);
        }
        return r;
    }

    private static TorchTensor tensor(TensorRef t, ByteBuffer data, int base) {
        StorageRef s = t.storage();
        return TorchTensor.gather(s.dtype(), t.size(), data, base, s.offset() + t.offset(), t.stride());
    }

    static long[] contiguousStrides(int[] shape) {
        long[] st = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= shape[i];
        }
        return st;
    }

    // ---- writing ----

    /** Writes {@code tensors} (F32 or I64) as a zip {@code torch.save} of an OrderedDict, atomically; byte for byte a function of the tensors. */
    public static void writePt(Path file, Map<String, TorchTensor> tensors) throws IOException {
        String root = "archive/";
        ByteArrayOutputStream pkl = new ByteArrayOutputStream();
        PickleWriter.stateDict(pkl, tensors);
        Path tmp = tmp(file);
        try (CountingOutputStream count = new CountingOutputStream(Files.newOutputStream(tmp));
             ZipOutputStream zip = new ZipOutputStream(count)) {
            stored(zip, count, root + "data.pkl", pkl.toByteArray());
            stored(zip, count, root + "byteorder", "little".getBytes(StandardCharsets.US_ASCII));
            int i = 0;
            for (TorchTensor t : tensors.values()) stored(zip, count, root + "data/" + i++, t.littleEndianBytes());
            stored(zip, count, root + "version", "3\n".getBytes(StandardCharsets.US_ASCII));
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Writes {@code tensors} (F32 or I64) as a legacy {@code torch.save} (PyTorch's {@code _legacy_save}, what
     * {@code _use_new_zipfile_serialization=False} writes), atomically: the magic number, protocol 1001 and system
     * info pickles, the OrderedDict pickle, the storage keys pickle, then each storage as an int64 little-endian
     * element count and its raw little-endian bytes. Storage keys are the tensors' indices rather than PyTorch's
     * memory addresses, so the file is byte for byte a function of the tensors.
     */
    public static void writeLegacy(Path file, Map<String, TorchTensor> tensors) throws IOException {
        ByteArrayOutputStream pkl = new ByteArrayOutputStream();
        PickleWriter.legacyHeader(pkl);
        PickleWriter.stateDict(pkl, tensors, true);
        PickleWriter.storageKeys(pkl, tensors.size());
        Path tmp = tmp(file);
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
            pkl.writeTo(out);
            for (TorchTensor t : tensors.values()) {
                out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(t.numel()).array());
                out.write(t.littleEndianBytes());
            }
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * An uncompressed entry whose data starts on a 64-byte boundary, as PyTorch's writer aligns them (so that
     * {@code torch.load(mmap=True)} can map it): the local header's extra field is padded.
     */
    private static void stored(ZipOutputStream zip, CountingOutputStream count, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setTimeLocal(LocalDateTime.of(1980, 1, 1, 0, 0)); // fixed: the file is a function of the tensors
        e.setSize(data.length);
        e.setCompressedSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        e.setCrc(crc.getValue());
        long start = count.count + 30 + name.getBytes(StandardCharsets.UTF_8).length + 4; // local header, name, extra header
        int pad = (int) ((64 - start % 64) % 64);
        byte[] extra = new byte[4 + pad]; // id 0x4246 ("FB", PyTorch's padding field), length pad, zeros
        extra[0] = 'F';
        extra[1] = 'B';
        extra[2] = (byte) pad;
        extra[3] = (byte) (pad >>> 8);
        e.setExtra(extra);
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }

    /** Writes {@code tensors} (F32 or I64) as {@code .safetensors} with string {@code metadata}, atomically. */
    public static void writeSafetensors(Path file, Map<String, TorchTensor> tensors, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long at = 0;
        List<byte[]> blobs = new ArrayList<>();
        for (Map.Entry<String, TorchTensor> e : tensors.entrySet()) {
            byte[] b = e.getValue().littleEndianBytes();
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", e.getValue().dtype().name());
            var shape = t.putArray("shape");
            for (int s : e.getValue().shape()) shape.add(s);
            t.putArray("data_offsets").add(at).add(at + b.length);
            at += b.length;
            blobs.add(b);
        }
        StringBuilder h = new StringBuilder(JSON.writeValueAsString(header));
        while ((h.length() + 8) % 8 != 0) h.append(' '); // the format pads the header with spaces to 8 bytes
        byte[] hb = h.toString().getBytes(StandardCharsets.UTF_8);
        while (hb.length % 8 != 0) {
            h.append(' ');
            hb = h.toString().getBytes(StandardCharsets.UTF_8);
        }
        Path tmp = tmp(file);
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(tmp))) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length).array());
            out.write(hb);
            for (byte[] b : blobs) out.write(b);
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static Path tmp(Path file) {
        Path abs = file.toAbsolutePath();
        return abs.resolveSibling("." + abs.getFileName() + ".tmp");
    }

    private static final class CountingOutputStream extends java.io.FilterOutputStream {
        long count;

        CountingOutputStream(OutputStream out) {
            super(new java.io.BufferedOutputStream(out, 1 << 16));
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }
}
