package org.addernet.data;

/**
 * Decoded uint8 images and their labels, held compactly (one byte per pixel; 60,000 MNIST images take
 * 47 MB, CIFAR-10's 50,000 take 154 MB).
 *
 * <p>Layout: NCHW, sample-major: the pixels of sample {@code i} are {@code pixels[i*C*H*W, (i+1)*C*H*W)},
 * channel-major inside a sample (CIFAR's own file layout, and the engine's tensor layout). Bytes are
 * unsigned: read a pixel as {@code pixels[k] & 0xFF}.
 *
 * <p>The arrays are shared, not copied ({@link #subset} included): treat them as read-only.
 *
 * <p>Each sample has an <em>id</em>, its index in the original dataset ({@code idBase + i * idStride} for
 * sample {@code i} of this view). A data-parallel worker holds a {@link #strided} shard of the dataset but draws
 * augmentation by id, so a sample is augmented the same whichever worker holds it.
 */
public final class ImageDataset {
    private final String name;
    private final byte[] pixels;
    private final int[] labels;
    private final int offset; // first sample of this view inside pixels/labels
    private final int count;
    private final int channels;
    private final int height;
    private final int width;
    private final int numClasses;
    private final int idBase;
    private final int idStride;

    /** Validates shapes and that every label is in {@code [0, numClasses)}. */
    public ImageDataset(String name, byte[] pixels, int[] labels, int channels, int height, int width, int numClasses) {
        this(name, pixels, labels, channels, height, width, numClasses, 0, 1);
    }

    /** As above, for a dataset whose sample {@code i} has id {@code idBase + i * idStride} (see {@link #strided}). */
    public ImageDataset(String name, byte[] pixels, int[] labels, int channels, int height, int width, int numClasses,
                        int idBase, int idStride) {
        this(name, pixels, labels, 0, labels.length, channels, height, width, numClasses, idBase, idStride);
        if (channels < 1 || height < 1 || width < 1) {
            throw new IllegalArgumentException(name + ": bad image shape " + channels + "x" + height + "x" + width);
        }
        if (numClasses < 1) throw new IllegalArgumentException(name + ": numClasses must be >= 1, got " + numClasses);
        if (idBase < 0 || idStride < 1) throw new IllegalArgumentException(name + ": bad ids " + idBase + " + i*" + idStride);
        long expected = (long) labels.length * channels * height * width;
        if (pixels.length != expected) {
            throw new IllegalArgumentException(name + ": " + labels.length + " labels of " + channels + "x" + height
                    + "x" + width + " images need " + expected + " pixel bytes, got " + pixels.length);
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= numClasses) {
                throw new DataFormatException(name + ": label out of range: label " + labels[i] + " at index " + i
                        + ", expected 0.." + (numClasses - 1));
            }
        }
    }

    private ImageDataset(String name, byte[] pixels, int[] labels, int offset, int count,
                         int channels, int height, int width, int numClasses, int idBase, int idStride) {
        this.name = name;
        this.pixels = pixels;
        this.labels = labels;
        this.offset = offset;
        this.count = count;
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.numClasses = numClasses;
        this.idBase = idBase;
        this.idStride = idStride;
    }

    /** Samples {@code [from, to)} of this dataset, sharing its arrays (no copy). */
    public ImageDataset subset(int from, int to) {
        if (from < 0 || to > count || from > to) {
            throw new IndexOutOfBoundsException(name + ": subset [" + from + ", " + to + ") of " + count + " samples");
        }
        return new ImageDataset(name + "[" + from + ":" + to + "]", pixels, labels, offset + from, to - from,
                channels, height, width, numClasses, idBase + from * idStride, idStride);
    }

    /**
     * A compact copy of the samples {@code i} with {@code i % workers == partition}: partition {@code partition}'s
     * shard in the {@link Sampler}'s layout. Sample {@code j} of the shard is sample {@code partition + j*workers}
     * of this view, and keeps its id.
     */
    public ImageDataset strided(int partition, int workers) {
        if (workers < 1 || partition < 0 || partition >= workers) {
            throw new IllegalArgumentException("partition " + partition + " of " + workers);
        }
        int n = count > partition ? (count - partition + workers - 1) / workers : 0;
        int s = sampleSize();
        byte[] px = new byte[n * s];
        int[] lb = new int[n];
        for (int j = 0; j < n; j++) {
            int i = partition + j * workers;
            System.arraycopy(pixels, (offset + i) * s, px, j * s, s);
            lb[j] = labels[offset + i];
        }
        return new ImageDataset(name + "{" + partition + "/" + workers + "}", px, lb, 0, n, channels, height, width,
                numClasses, id(0) + partition * idStride, idStride * workers);
    }

    /** Id of sample {@code i}: its index in the dataset this view was cut from. */
    public int id(int i) {
        return idBase + i * idStride;
    }

    public int idBase() {
        return idBase;
    }

    public int idStride() {
        return idStride;
    }

    /** Where sample {@code i}'s pixels start in {@link #pixels()}. */
    public int pixelOffset(int i) {
        checkIndex(i);
        return (offset + i) * sampleSize();
    }

    /** Pixel {@code (c, r, col)} of sample {@code i} as 0..255. */
    public int pixel(int i, int c, int r, int col) {
        return pixels[pixelOffset(i) + (c * height + r) * width + col] & 0xFF;
    }

    public int label(int i) {
        checkIndex(i);
        return labels[offset + i];
    }

    private void checkIndex(int i) {
        if (i < 0 || i >= count) throw new IndexOutOfBoundsException(name + ": sample " + i + " of " + count);
    }

    /** The backing pixel array (shared; may be larger than this view: use {@link #pixelOffset}). */
    public byte[] pixels() {
        return pixels;
    }

    public String name() {
        return name;
    }

    public int count() {
        return count;
    }

    public int channels() {
        return channels;
    }

    public int height() {
        return height;
    }

    public int width() {
        return width;
    }

    public int numClasses() {
        return numClasses;
    }

    /** C*H*W: bytes per sample. */
    public int sampleSize() {
        return channels * height * width;
    }

    @Override
    public String toString() {
        return name + " (" + count + " x " + channels + "x" + height + "x" + width + ", " + numClasses + " classes)";
    }
}
