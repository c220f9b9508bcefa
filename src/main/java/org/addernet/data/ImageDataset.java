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

    /** Validates shapes and that every label is in {@code [0, numClasses)}. */
    public ImageDataset(String name, byte[] pixels, int[] labels, int channels, int height, int width, int numClasses) {
        this(name, pixels, labels, 0, labels.length, channels, height, width, numClasses);
        if (channels < 1 || height < 1 || width < 1) {
            throw new IllegalArgumentException(name + ": bad image shape " + channels + "x" + height + "x" + width);
        }
        if (numClasses < 1) throw new IllegalArgumentException(name + ": numClasses must be >= 1, got " + numClasses);
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
                         int channels, int height, int width, int numClasses) {
        this.name = name;
        this.pixels = pixels;
        this.labels = labels;
        this.offset = offset;
        this.count = count;
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.numClasses = numClasses;
    }

    /** Samples {@code [from, to)} of this dataset, sharing its arrays (no copy). */
    public ImageDataset subset(int from, int to) {
        if (from < 0 || to > count || from > to) {
            throw new IndexOutOfBoundsException(name + ": subset [" + from + ", " + to + ") of " + count + " samples");
        }
        return new ImageDataset(name + "[" + from + ":" + to + "]", pixels, labels, offset + from, to - from,
                channels, height, width, numClasses);
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
