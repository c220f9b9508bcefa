package org.addernet.data;

import java.util.Arrays;

/**
 * A chunk of compressed images (JPEG as stored, or whatever {@link JpegDecoder} reads) with their labels, ids and
 * source paths, held compactly for caching (Spark's MEMORY_AND_DISK_SER through Kryo): five arrays, no object
 * per image. A cluster keeps these, never decoded pixels (DESIGN.md section 5).
 *
 * <p>Layout: image {@code i}'s bytes are {@code blob[offsets[i], offsets[i+1])}; {@code offsets} has
 * {@code count + 1} entries, starts at 0, never decreases and ends at {@code blob.length}. {@code ids[i]} is the
 * image's index in the whole dataset (it keys the augmentation draws), {@code labels[i]} its class in
 * {@code [0, numClasses)}, {@code paths[i]} where it came from (for error messages).
 *
 * <p>A byte array holds at most ~2 GB, so whoever builds a larger shard splits it into several chunks (a shard is a
 * {@code List<EncodedImages>}; {@link Builder#fits} says when to start the next one).
 *
 * <p>The arrays are shared, not copied: treat them as read-only. Immutable otherwise, so thread-safe.
 */
public final class EncodedImages {
    /** Largest blob a chunk holds (the JVM's array limit, with a margin). */
    public static final int MAX_BYTES = Integer.MAX_VALUE - 64;

    private final String name;
    private final byte[] blob;
    private final int[] offsets;
    private final int[] labels;
    private final int[] ids;
    private final String[] paths;
    private final int numClasses;

    /** Wraps the arrays (no copy) after checking the layout above; what a deserializer calls. */
    public EncodedImages(String name, byte[] blob, int[] offsets, int[] labels, int[] ids, String[] paths, int numClasses) {
        int n = labels.length;
        if (ids.length != n || paths.length != n || offsets.length != n + 1) {
            throw new IllegalArgumentException(name + ": " + n + " labels need " + n + " ids, " + n + " paths and "
                    + (n + 1) + " offsets; got " + ids.length + ", " + paths.length + ", " + offsets.length);
        }
        if (numClasses < 1) throw new IllegalArgumentException(name + ": numClasses must be >= 1, got " + numClasses);
        if (offsets[0] != 0 || offsets[n] != blob.length) {
            throw new IllegalArgumentException(name + ": offsets must run from 0 to the blob length " + blob.length
                    + ", got " + offsets[0] + " .. " + offsets[n]);
        }
        for (int i = 0; i < n; i++) {
            if (offsets[i + 1] < offsets[i]) {
                throw new IllegalArgumentException(name + ": offsets decrease at image " + i + ": " + offsets[i] + " > " + offsets[i + 1]);
            }
            if (labels[i] < 0 || labels[i] >= numClasses) {
                throw new DataFormatException(name + ": label out of range: label " + labels[i] + " of " + paths[i]
                        + ", expected 0.." + (numClasses - 1));
            }
            if (ids[i] < 0) throw new IllegalArgumentException(name + ": negative id " + ids[i] + " at image " + i);
            if (paths[i] == null) throw new IllegalArgumentException(name + ": null path at image " + i);
        }
        this.name = name;
        this.blob = blob;
        this.offsets = offsets;
        this.labels = labels;
        this.ids = ids;
        this.paths = paths;
        this.numClasses = numClasses;
    }

    public static Builder builder(String name, int numClasses) {
        return new Builder(name, numClasses);
    }

    public String name() {
        return name;
    }

    public int count() {
        return labels.length;
    }

    public int numClasses() {
        return numClasses;
    }

    /** Where image {@code i}'s bytes start in {@link #blob()}. */
    public int offset(int i) {
        checkIndex(i);
        return offsets[i];
    }

    /** Compressed size of image {@code i}. */
    public int length(int i) {
        checkIndex(i);
        return offsets[i + 1] - offsets[i];
    }

    /** A copy of image {@code i}'s bytes (the decoder reads {@link #blob()} at {@link #offset} instead). */
    public byte[] bytes(int i) {
        return Arrays.copyOfRange(blob, offset(i), offsets[i + 1]);
    }

    public int label(int i) {
        checkIndex(i);
        return labels[i];
    }

    public int id(int i) {
        checkIndex(i);
        return ids[i];
    }

    public String path(int i) {
        checkIndex(i);
        return paths[i];
    }

    /** Total compressed bytes. */
    public int byteSize() {
        return blob.length;
    }

    // The backing arrays, shared, for a serializer.

    public byte[] blob() {
        return blob;
    }

    public int[] offsets() {
        return offsets;
    }

    public int[] labels() {
        return labels;
    }

    public int[] ids() {
        return ids;
    }

    public String[] paths() {
        return paths;
    }

    private void checkIndex(int i) {
        if (i < 0 || i >= labels.length) throw new IndexOutOfBoundsException(name + ": image " + i + " of " + labels.length);
    }

    @Override
    public String toString() {
        return name + " (" + count() + " images, " + blob.length + " bytes, " + numClasses + " classes)";
    }

    /** Appends (id, label, path, bytes) records; {@link #build} trims the arrays to size. */
    public static final class Builder {
        private final String name;
        private final int numClasses;
        private byte[] blob = new byte[1 << 16];
        private int[] offsets = new int[17];
        private int[] labels = new int[16];
        private int[] ids = new int[16];
        private String[] paths = new String[16];
        private int n;

        private Builder(String name, int numClasses) {
            if (numClasses < 1) throw new IllegalArgumentException(name + ": numClasses must be >= 1, got " + numClasses);
            this.name = name;
            this.numClasses = numClasses;
        }

        public int count() {
            return n;
        }

        /** Bytes appended so far. */
        public long byteSize() {
            return offsets[n];
        }

        /** Whether an image of {@code length} bytes still fits into this chunk. */
        public boolean fits(int length) {
            return (long) offsets[n] + length <= MAX_BYTES;
        }

        public Builder add(int id, int label, String path, byte[] bytes) {
            return add(id, label, path, bytes, 0, bytes.length);
        }

        public Builder add(int id, int label, String path, byte[] bytes, int off, int len) {
            if (path == null) throw new IllegalArgumentException(name + ": null path");
            if (!fits(len)) {
                throw new IllegalStateException(name + ": " + path + " (" + len + " bytes) does not fit after "
                        + offsets[n] + " bytes; start a new chunk");
            }
            if (label < 0 || label >= numClasses) {
                throw new DataFormatException(name + ": label out of range: label " + label + " of " + path
                        + ", expected 0.." + (numClasses - 1));
            }
            if (id < 0) throw new IllegalArgumentException(name + ": negative id " + id + " for " + path);
            if (n == labels.length) {
                int cap = Math.max(16, n + (n >> 1));
                labels = Arrays.copyOf(labels, cap);
                ids = Arrays.copyOf(ids, cap);
                paths = Arrays.copyOf(paths, cap);
                offsets = Arrays.copyOf(offsets, cap + 1);
            }
            int end = offsets[n] + len;
            if (end > blob.length) blob = Arrays.copyOf(blob, (int) Math.min(MAX_BYTES, Math.max(end, 2L * blob.length)));
            System.arraycopy(bytes, off, blob, offsets[n], len);
            labels[n] = label;
            ids[n] = id;
            paths[n] = path;
            offsets[++n] = end;
            return this;
        }

        public EncodedImages build() {
            return new EncodedImages(name, Arrays.copyOf(blob, offsets[n]), Arrays.copyOf(offsets, n + 1),
                    Arrays.copyOf(labels, n), Arrays.copyOf(ids, n), Arrays.copyOf(paths, n), numClasses);
        }
    }
}
