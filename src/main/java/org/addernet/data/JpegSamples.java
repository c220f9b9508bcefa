package org.addernet.data;

import java.util.Arrays;
import java.util.List;
import org.addernet.engine.ThreadPool;

/**
 * {@link Samples} over compressed images ({@link CompressedImages}: {@link EncodedImages} chunks in heap or a
 * {@link LocalShard} on local disk): {@link #fill} reads and decodes each sample and applies the training or
 * evaluation {@link ImageTransforms}, in parallel over samples. Sample {@code i} is image {@code i} of the source (id
 * order). Only compressed bytes are held: a decoded image lives only while its sample is being written.
 *
 * <p>Training draws come from {@code Rng.derive(seed, Rng.AUGMENT, epoch, id)}, so a sample's floats depend only
 * on (seed, epoch, id), not on the batch, thread or worker that fills it.
 *
 * <p>An image that does not decode fails {@link #fill} with the {@link DataFormatException} naming its path;
 * whoever builds the source is expected to have run {@link #validate} on every image first.
 *
 * <p>Immutable: {@link #fill} may run on many threads at once (each call makes its own per-thread decoders).
 */
public final class JpegSamples implements Samples {
    private final String name;
    private final CompressedImages images;
    private final ImageTransforms transforms;
    private final boolean train;
    private final long seed;

    /**
     * @param train  the training transform (random resized crop + flip) if true, else the evaluation one
     * @param seed   the run's seed, keying the training draws
     */
    public JpegSamples(String name, CompressedImages images, ImageTransforms transforms, boolean train, long seed) {
        this.name = name;
        this.images = images;
        this.transforms = transforms;
        this.train = train;
        this.seed = seed;
    }

    /** Over chunks in heap: sample {@code i} numbers the images across the chunks in order. */
    public JpegSamples(String name, List<EncodedImages> chunks, ImageTransforms transforms, boolean train, long seed) {
        this(name, new Chunks(name, chunks), transforms, train, seed);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int count() {
        return images.count();
    }

    @Override
    public int id(int i) {
        check(i);
        return images.id(i);
    }

    @Override
    public int label(int i) {
        check(i);
        return images.label(i);
    }

    @Override
    public int numClasses() {
        return images.numClasses();
    }

    @Override
    public int[] shape() {
        return new int[] {3, transforms.size(), transforms.size()};
    }

    @Override
    public String source(int i) {
        check(i);
        return images.path(i);
    }

    public boolean train() {
        return train;
    }

    public ImageTransforms transforms() {
        return transforms;
    }

    private void check(int i) {
        if (i < 0 || i >= images.count()) throw new IndexOutOfBoundsException(name + ": sample " + i + " of " + images.count());
    }

    @Override
    public void fill(int epoch, int[] indices, int from, int n, float[] x, int[] y, ThreadPool pool) {
        int s = transforms.sampleSize();
        Samples.checkBatch(indices, from, n, s, x, y);
        if (pool == null) {
            fillRange(epoch, indices, from, 0, n, x, y);
        } else {
            pool.parallelFor(n, (t, a, b) -> fillRange(epoch, indices, from, a, b, x, y));
        }
    }

    /** Samples {@code k in [a, b)} of the batch, with this thread's own decoder and buffers. */
    private void fillRange(int epoch, int[] indices, int from, int a, int b, float[] x, int[] y) {
        int s = transforms.sampleSize();
        try (Worker w = new Worker(transforms)) {
            for (int k = a; k < b; k++) {
                int i = indices[from + k];
                fillOne(w, epoch, i, x, k * s);
                y[k] = label(i);
            }
        }
    }

    /** Writes sample {@code i}'s 3*size*size floats at {@code x[xOff]}, on the calling thread. */
    public void fillSample(int epoch, int i, float[] x, int xOff) {
        try (Worker w = new Worker(transforms)) {
            fillOne(w, epoch, i, x, xOff);
        }
    }

    private void fillOne(Worker w, int epoch, int i, float[] x, int xOff) {
        check(i);
        CompressedImages.Bytes b = images.bytes(i);
        RgbImage img = w.decoder.decode(b.data(), b.offset(), b.length(), images.path(i));
        if (train) {
            transforms.train(img, seed, epoch, images.id(i), x, xOff, w.resize, w.scratch);
        } else {
            transforms.eval(img, x, xOff, w.resize, w.scratch);
        }
    }

    /** Decodes {@code bytes} fully once; throws the {@link DataFormatException} naming {@code path} if that fails. */
    public static void validate(byte[] bytes, String path) {
        try (JpegDecoder d = new JpegDecoder()) {
            d.validate(bytes, 0, bytes.length, path);
        }
    }

    /** {@link #validate(byte[], String)} for every image of a chunk, with one decoder. */
    public static void validate(EncodedImages chunk) {
        try (JpegDecoder d = new JpegDecoder()) {
            for (int j = 0; j < chunk.count(); j++) d.validate(chunk.blob(), chunk.offset(j), chunk.length(j), chunk.path(j));
        }
    }

    @Override
    public String toString() {
        return name + " (" + count() + " JPEG samples, " + (train ? "train" : "eval") + " transform to 3x" + transforms.size()
                + "x" + transforms.size() + ", " + numClasses() + " classes)";
    }

    /** One thread's decoder and scratch buffers, for one fill call. */
    private static final class Worker implements AutoCloseable {
        final JpegDecoder decoder = new JpegDecoder();
        final BilinearResize resize = new BilinearResize();
        final byte[] scratch;

        Worker(ImageTransforms t) {
            scratch = new byte[t.scratchSize()];
        }

        @Override
        public void close() {
            decoder.close();
        }
    }

    /** {@link EncodedImages} chunks as one {@link CompressedImages}, numbered across the chunks in order. */
    private static final class Chunks implements CompressedImages {
        private final String name;
        private final EncodedImages[] chunks;
        private final int[] starts; // starts[c]: image number of chunk c's first image; starts[chunks.length] = count
        private final int numClasses;

        Chunks(String name, List<EncodedImages> list) {
            if (list.isEmpty()) throw new IllegalArgumentException(name + ": no chunks (give one empty chunk for an empty shard)");
            this.name = name;
            this.chunks = list.toArray(new EncodedImages[0]);
            this.starts = new int[chunks.length + 1];
            this.numClasses = chunks[0].numClasses();
            long total = 0;
            for (int c = 0; c < chunks.length; c++) {
                EncodedImages e = chunks[c];
                if (e.numClasses() != numClasses) {
                    throw new IllegalArgumentException(name + ": chunk " + e.name() + " has " + e.numClasses()
                            + " classes, chunk " + chunks[0].name() + " has " + numClasses);
                }
                starts[c] = (int) total;
                total += e.count();
                if (total > Integer.MAX_VALUE) throw new IllegalArgumentException(name + ": more than 2^31-1 samples");
            }
            starts[chunks.length] = (int) total;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public int count() {
            return starts[chunks.length];
        }

        @Override
        public int numClasses() {
            return numClasses;
        }

        private int chunkOf(int i) {
            if (i < 0 || i >= count()) throw new IndexOutOfBoundsException(name + ": sample " + i + " of " + count());
            int c = Arrays.binarySearch(starts, i);
            if (c < 0) return -c - 2; // inside chunk c = insertion point - 1
            while (starts[c + 1] == i) c++; // i starts chunk c, unless chunks before it are empty
            return c;
        }

        @Override
        public int id(int i) {
            int c = chunkOf(i);
            return chunks[c].id(i - starts[c]);
        }

        @Override
        public int label(int i) {
            int c = chunkOf(i);
            return chunks[c].label(i - starts[c]);
        }

        @Override
        public String path(int i) {
            int c = chunkOf(i);
            return chunks[c].path(i - starts[c]);
        }

        @Override
        public Bytes bytes(int i) {
            int c = chunkOf(i);
            EncodedImages e = chunks[c];
            int j = i - starts[c];
            return new Bytes(e.blob(), e.offset(j), e.length(j));
        }
    }
}
