package org.addernet.data;

import java.io.BufferedOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One worker's shard of compressed images as a file on local disk plus a small index in heap: the one copy an
 * executor keeps (DESIGN.md section 5: compressed bytes only). A step reads just the images it samples, with
 * positional reads of the file (the operating system's page cache keeps what fits), so the heap holds the index
 * (a few tens of bytes per image plus its path) whatever the dataset size.
 *
 * <p>Index layout, image {@code i} in id order ({@code ids} strictly increasing): its bytes are
 * {@code file[offsets[i], offsets[i] + lengths[i])}, its class {@code labels[i]}, its source {@code paths[i]}.
 * The file's records are in write order, the index in id order, so a shard merged from several buckets needs no
 * second pass over the bytes.
 *
 * <p>{@link #budget} bounds an optional in-heap LRU of compressed records shared by every shard of this JVM
 * ({@code image_memory_mb}; 0, the default, keeps none and leaves caching to the page cache).
 *
 * <p>{@code sources} says how to rebuild the file elsewhere (the Spark layer's business: the bucket files of a
 * prepared split, or none when every image is re-read from its path).
 */
public final class LocalShard implements CompressedImages {
    private static final AtomicInteger SERIAL = new AtomicInteger();
    private static final RecordCache CACHE = new RecordCache();

    private final String name;
    private final int numClasses;
    private final int[] ids, labels, lengths;
    private final long[] offsets;
    private final String[] paths;
    private final String[] sources;
    private final String file;
    private final int serial = SERIAL.incrementAndGet();
    private volatile FileChannel channel;

    /** Wraps the index (no copy) after checking it; {@code file} may be null for an index whose file is elsewhere. */
    public LocalShard(String name, int numClasses, int[] ids, int[] labels, long[] offsets, int[] lengths, String[] paths,
                      String[] sources, String file) {
        int n = ids.length;
        if (labels.length != n || offsets.length != n || lengths.length != n || paths.length != n) {
            throw new IllegalArgumentException(name + ": index arrays of different lengths");
        }
        if (numClasses < 1) throw new IllegalArgumentException(name + ": numClasses must be >= 1, got " + numClasses);
        for (int i = 0; i < n; i++) {
            if (i > 0 && ids[i] <= ids[i - 1]) {
                throw new IllegalArgumentException(name + ": ids must increase, got " + ids[i - 1] + " then " + ids[i]
                        + (ids[i] == ids[i - 1] ? " (" + paths[i] + " twice)" : ""));
            }
            if (labels[i] < 0 || labels[i] >= numClasses) {
                throw new DataFormatException(name + ": label out of range: label " + labels[i] + " of " + paths[i]
                        + ", expected 0.." + (numClasses - 1));
            }
            if (offsets[i] < 0 || lengths[i] < 0) throw new IllegalArgumentException(name + ": negative offset or length at image " + i);
        }
        this.name = name;
        this.numClasses = numClasses;
        this.ids = ids;
        this.labels = labels;
        this.offsets = offsets;
        this.lengths = lengths;
        this.paths = paths;
        this.sources = sources == null ? new String[0] : sources;
        this.file = file;
    }

    /** The same index over another file (the shard rebuilt on this machine). */
    public LocalShard withFile(String file, long[] offsets) {
        return new LocalShard(name, numClasses, ids, labels, offsets, lengths, paths, sources, file);
    }

    /** Writes images to {@code file} in any order; {@link #finish} sorts the index by id. */
    public static Writer writer(String name, int numClasses, File file, String[] sources) throws IOException {
        return new Writer(name, numClasses, file, sources);
    }

    /** Sets the JVM's in-heap record budget in bytes (0: none); shrinking evicts at once. */
    public static void budget(long bytes) {
        CACHE.setBudget(bytes);
    }

    /** Bytes the record cache holds now (for tests and benchmarks). */
    public static long cachedBytes() {
        return CACHE.held();
    }

    /** The most bytes the record cache held since the last {@link #resetPeak} (for tests and benchmarks). */
    public static long peakCachedBytes() {
        return CACHE.peak();
    }

    public static void resetPeak() {
        CACHE.resetPeak();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int count() {
        return ids.length;
    }

    @Override
    public int numClasses() {
        return numClasses;
    }

    @Override
    public int id(int i) {
        return ids[i];
    }

    @Override
    public int label(int i) {
        return labels[i];
    }

    @Override
    public String path(int i) {
        return paths[i];
    }

    public int length(int i) {
        return lengths[i];
    }

    /** Where image {@code i} starts in the file. */
    public long offset(int i) {
        return offsets[i];
    }

    /** The local file, or null. */
    public String file() {
        return file;
    }

    /** How to rebuild the file (see the class comment). */
    public String[] sources() {
        return sources.clone();
    }

    /** Compressed bytes of the whole shard. */
    public long byteSize() {
        long s = 0;
        for (int l : lengths) s += l;
        return s;
    }

    /** The index position of image {@code id}, or a negative number if the shard does not hold it. */
    public int indexOf(int id) {
        return Arrays.binarySearch(ids, id);
    }

    /** The shared arrays, for a serializer. */
    public int[] ids() {
        return ids;
    }

    public int[] labels() {
        return labels;
    }

    public int[] lengths() {
        return lengths;
    }

    public long[] offsets() {
        return offsets;
    }

    public String[] paths() {
        return paths;
    }

    /** Whether this machine has the file with at least the bytes the index points to. */
    public boolean present() {
        if (file == null) return false;
        File f = new File(file);
        long end = 0;
        for (int i = 0; i < ids.length; i++) end = Math.max(end, offsets[i] + lengths[i]);
        return f.isFile() && f.length() >= end;
    }

    @Override
    public Bytes bytes(int i) {
        if (i < 0 || i >= ids.length) throw new IndexOutOfBoundsException(name + ": image " + i + " of " + ids.length);
        long key = ((long) serial << 32) | i;
        byte[] b = CACHE.get(key);
        if (b == null) {
            b = read(i);
            CACHE.put(key, b);
        }
        return new Bytes(b, 0, b.length);
    }

    private byte[] read(int i) {
        byte[] b = new byte[lengths[i]];
        ByteBuffer buf = ByteBuffer.wrap(b);
        try {
            FileChannel ch = channel();
            long pos = offsets[i];
            while (buf.hasRemaining()) {
                int r = ch.read(buf, pos + buf.position());
                if (r < 0) throw new DataFormatException(file + ": truncated local shard file (image " + paths[i] + " at " + pos + ")");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(name + ": cannot read " + paths[i] + " from the local shard file " + file, e);
        }
        return b;
    }

    private FileChannel channel() throws IOException {
        FileChannel c = channel;
        if (c == null) {
            synchronized (this) {
                c = channel;
                if (c == null) {
                    if (file == null) throw new IllegalStateException(name + ": no local file (the shard was not staged on this machine)");
                    channel = c = FileChannel.open(new File(file).toPath(), StandardOpenOption.READ);
                }
            }
        }
        return c;
    }

    /** Closes the file and, when {@code delete}, removes it; the index stays usable only if the file stays. */
    public synchronized void close(boolean delete) {
        CACHE.dropShard(serial);
        try {
            if (channel != null) channel.close();
        } catch (IOException ignored) {
            // closing a read-only channel cannot lose data
        }
        channel = null;
        if (delete && file != null) new File(file).delete();
    }

    @Override
    public String toString() {
        return name + " (" + ids.length + " images, " + byteSize() + " bytes in " + file + ")";
    }

    /** Appends records to the shard file and collects the index. */
    public static final class Writer implements AutoCloseable {
        private final String name;
        private final int numClasses;
        private final File file;
        private final String[] sources;
        private final OutputStream out;
        private int[] ids = new int[64], labels = new int[64], lengths = new int[64];
        private long[] offsets = new long[64];
        private String[] paths = new String[64];
        private int n;
        private long pos;

        private Writer(String name, int numClasses, File file, String[] sources) throws IOException {
            this.name = name;
            this.numClasses = numClasses;
            this.file = file;
            this.sources = sources;
            this.out = new BufferedOutputStream(new FileOutputStream(file), 1 << 20);
        }

        public int count() {
            return n;
        }

        /** Bytes written so far. */
        public long byteSize() {
            return pos;
        }

        public void add(int id, int label, String path, byte[] bytes, int off, int len) throws IOException {
            if (n == ids.length) {
                int cap = n + (n >> 1);
                ids = Arrays.copyOf(ids, cap);
                labels = Arrays.copyOf(labels, cap);
                lengths = Arrays.copyOf(lengths, cap);
                offsets = Arrays.copyOf(offsets, cap);
                paths = Arrays.copyOf(paths, cap);
            }
            out.write(bytes, off, len);
            ids[n] = id;
            labels[n] = label;
            lengths[n] = len;
            offsets[n] = pos;
            paths[n] = path;
            n++;
            pos += len;
        }

        /** Closes the file and returns the shard, its index sorted by id. */
        public LocalShard finish() throws IOException {
            out.close();
            // Sort positions by id: (id << 32 | position) as longs, ids being non-negative.
            long[] keys = new long[n];
            for (int i = 0; i < n; i++) keys[i] = ((long) ids[i] << 32) | i;
            Arrays.sort(keys);
            int[] sIds = new int[n], sLabels = new int[n], sLengths = new int[n];
            long[] sOffsets = new long[n];
            String[] sPaths = new String[n];
            for (int k = 0; k < n; k++) {
                int i = (int) keys[k];
                sIds[k] = ids[i];
                sLabels[k] = labels[i];
                sLengths[k] = lengths[i];
                sOffsets[k] = offsets[i];
                sPaths[k] = paths[i];
            }
            return new LocalShard(name, numClasses, sIds, sLabels, sOffsets, sLengths, sPaths, sources, file.getAbsolutePath());
        }

        /** Abandons the shard: closes and deletes the file. */
        @Override
        public void close() {
            try {
                out.close();
            } catch (IOException ignored) {
                // the file is deleted next
            }
        }

        public void delete() {
            close();
            file.delete();
        }
    }

    /** An LRU of compressed records, bounded in bytes, shared by the shards of one JVM. */
    static final class RecordCache {
        private final LinkedHashMap<Long, byte[]> map = new LinkedHashMap<>(16, 0.75f, true);
        private long budget, held, peak;

        synchronized void setBudget(long bytes) {
            budget = Math.max(0, bytes);
            evict();
        }

        synchronized long held() {
            return held;
        }

        synchronized long peak() {
            return peak;
        }

        synchronized void resetPeak() {
            peak = held;
        }

        synchronized byte[] get(long key) {
            return budget == 0 ? null : map.get(key);
        }

        synchronized void put(long key, byte[] b) {
            if (b.length > budget) return;
            byte[] old = map.put(key, b);
            held += b.length - (old == null ? 0 : old.length);
            evict();
            peak = Math.max(peak, held);
        }

        synchronized void dropShard(int serial) {
            var it = map.entrySet().iterator();
            while (it.hasNext()) {
                Map.Entry<Long, byte[]> e = it.next();
                if ((int) (e.getKey() >>> 32) == serial) {
                    held -= e.getValue().length;
                    it.remove();
                }
            }
        }

        private void evict() {
            var it = map.entrySet().iterator();
            while (held > budget && it.hasNext()) {
                held -= it.next().getValue().length;
                it.remove();
            }
        }
    }
}
