package org.addernet.data;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.zip.ZipException;
import java.util.zip.GZIPInputStream;

/**
 * MNIST / Fashion-MNIST IDX files: {@code idx3-ubyte} images and {@code idx1-ubyte} labels, big-endian
 * header {@code 00 00 08 ndims} then one int32 per dimension, then unsigned bytes.
 *
 * <p>Compression is detected from the gzip magic {@code 1f 8b}, not the file name, because mirrors and
 * browsers rename and decompress files freely. Each file is read exactly once, through one buffered stream.
 */
public final class IdxReader {
    static final int IMAGES_MAGIC = 0x00000803; // unsigned byte, 3 dimensions
    static final int LABELS_MAGIC = 0x00000801; // unsigned byte, 1 dimension
    private static final int MNIST_CLASSES = 10;

    private IdxReader() {
    }

    /** Images and labels of a split, decoded from IDX image data and IDX label data. */
    record Images(byte[] pixels, int count, int rows, int cols) {
    }

    /**
     * Reads the training ({@code train-*}) or test ({@code t10k-*}) split from {@code dir}, gzip or raw.
     * The dataset is named after the directory.
     */
    public static ImageDataset readMnist(Path dir, boolean train) {
        return readMnist(dir, train, String.valueOf(dir.getFileName()));
    }

    /** As {@link #readMnist(Path, boolean)}, naming the dataset {@code name} in messages. */
    public static ImageDataset readMnist(Path dir, boolean train, String name) {
        String prefix = train ? "train" : "t10k";
        Path imagesFile = find(dir, prefix + "-images-idx3-ubyte", prefix + "-images.idx3-ubyte",
                name + " " + (train ? "training" : "test") + " images");
        Path labelsFile = find(dir, prefix + "-labels-idx1-ubyte", prefix + "-labels.idx1-ubyte",
                name + " " + (train ? "training" : "test") + " labels");
        Images images = readImages(imagesFile);
        int[] labels = readLabels(labelsFile, MNIST_CLASSES);
        if (labels.length != images.count()) {
            throw new DataFormatException("image/label count mismatch: " + imagesFile + " holds " + images.count()
                    + " images but " + labelsFile + " holds " + labels.length + " labels");
        }
        return new ImageDataset(name + (train ? "/train" : "/test"), images.pixels(), labels, 1,
                images.rows(), images.cols(), MNIST_CLASSES);
    }

    /** The four base names (without {@code .gz}) an MNIST-style directory holds. */
    static List<String> mnistFileNames() {
        return List.of("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
    }

    /** True if {@code dir} holds both splits (gzip or raw, either naming). */
    static boolean hasMnistFiles(Path dir) {
        for (String base : mnistFileNames()) {
            String dotted = base.replace("-idx", ".idx");
            if (!Files.isRegularFile(dir.resolve(base + ".gz")) && !Files.isRegularFile(dir.resolve(base))
                    && !Files.isRegularFile(dir.resolve(dotted + ".gz")) && !Files.isRegularFile(dir.resolve(dotted))) {
                return false;
            }
        }
        return true;
    }

    // The official names, then the dotted variant some mirrors (and Kaggle) use; gzip first.
    private static Path find(Path dir, String base, String dotted, String what) {
        String[] names = {base + ".gz", base, dotted + ".gz", dotted};
        for (String n : names) {
            Path p = dir.resolve(n);
            if (Files.isRegularFile(p)) return p;
        }
        String why = Files.isDirectory(dir) ? "" : " (the directory does not exist)";
        throw new DataFormatException("missing file: no " + what + " in " + dir.toAbsolutePath() + why
                + "; looked for " + String.join(", ", names));
    }

    /** An {@code idx3-ubyte} image file alone (gzip or raw), without labels (all 0 of 1 class). */
    public static ImageDataset readImagesFile(Path file) {
        Images im = readImages(file);
        return new ImageDataset(file.toString(), im.pixels(), new int[im.count()], 1, im.rows(), im.cols(), 1);
    }

    /** Reads an {@code idx3-ubyte} image file (gzip or raw). */
    static Images readImages(Path file) {
        try (InputStream in = open(file)) {
            int[] h = readHeader(in, file, IMAGES_MAGIC, 3);
            int count = h[0], rows = h[1], cols = h[2];
            if (rows < 1 || cols < 1) {
                throw new DataFormatException(file + ": bad image size " + rows + "x" + cols);
            }
            long body = (long) count * rows * cols;
            byte[] pixels = readBody(in, file, 16, body, count + " images of " + rows + "x" + cols);
            return new Images(pixels, count, rows, cols);
        } catch (IOException e) {
            throw readError(file, e);
        }
    }

    /** Reads an {@code idx1-ubyte} label file (gzip or raw), checking every label is in {@code [0, classes)}. */
    static int[] readLabels(Path file, int classes) {
        try (InputStream in = open(file)) {
            int[] h = readHeader(in, file, LABELS_MAGIC, 1);
            int count = h[0];
            byte[] raw = readBody(in, file, 8, count, count + " labels");
            int[] labels = new int[count];
            for (int i = 0; i < count; i++) {
                int v = raw[i] & 0xFF;
                if (v >= classes) {
                    throw new DataFormatException(file + ": label out of range: label " + v + " at index " + i
                            + ", expected 0.." + (classes - 1));
                }
                labels[i] = v;
            }
            return labels;
        } catch (IOException e) {
            throw readError(file, e);
        }
    }

    /** An I/O failure as the error a user reads: truncated gzip, corrupt gzip, or unreadable, naming the file. */
    private static RuntimeException readError(Path file, IOException e) {
        if (e instanceof EOFException) return new DataFormatException(file + ": truncated file: the gzip stream ends unexpectedly", e);
        if (e instanceof ZipException) return new DataFormatException(file + ": corrupt gzip data: " + e.getMessage(), e);
        return new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }

    /** A buffered stream over the file's content, decompressing if it starts with the gzip magic. */
    static InputStream open(Path file) throws IOException {
        BufferedInputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        in.mark(2);
        int b0 = in.read(), b1 = in.read();
        in.reset();
        if (b0 == 0x1f && b1 == 0x8b) {
            return new BufferedInputStream(new GZIPInputStream(in, 1 << 16), 1 << 16);
        }
        return in;
    }

    // Returns the dimension sizes; the magic's third byte is the element type, the fourth the rank.
    private static int[] readHeader(InputStream in, Path file, int expectedMagic, int dims) throws IOException {
        int headerBytes = 4 + 4 * dims;
        byte[] h = in.readNBytes(headerBytes);
        if (h.length < 4) {
            throw new DataFormatException(file + ": truncated file: expected at least " + headerBytes
                    + " header bytes, found " + h.length);
        }
        int magic = readInt(h, 0);
        if (magic != expectedMagic) {
            int otherMagic = expectedMagic == IMAGES_MAGIC ? LABELS_MAGIC : IMAGES_MAGIC;
            boolean sameType = (magic & 0xFFFFFF00) == (expectedMagic & 0xFFFFFF00);
            if (sameType && magic != otherMagic) {
                throw new DataFormatException(file + ": wrong dimension count: expected " + dims + ", found "
                        + (magic & 0xFF) + " (magic " + hex(magic) + ")");
            }
            String hint = magic == otherMagic ? (magic == LABELS_MAGIC ? "; this is a label file" : "; this is an image file")
                    : (magic >>> 16) == 0x1f8b ? "; gzip data inside gzip?" : "";
            throw new DataFormatException(file + ": bad magic number: expected " + hex(expectedMagic) + " ("
                    + expectedMagic + "), found " + hex(magic) + " (" + magic + ")" + hint);
        }
        if (h.length < headerBytes) {
            throw new DataFormatException(file + ": truncated file: expected at least " + headerBytes
                    + " header bytes, found " + h.length);
        }
        int[] sizes = new int[dims];
        for (int d = 0; d < dims; d++) {
            sizes[d] = readInt(h, 4 + 4 * d);
            if (sizes[d] < 0) {
                throw new DataFormatException(file + ": negative size " + sizes[d] + " in dimension " + d);
            }
        }
        return sizes;
    }

    // Reads exactly `body` bytes and then requires end of file, so truncation and trailing garbage are
    // both caught; sizes in messages are of the (decompressed) content, header included.
    private static byte[] readBody(InputStream in, Path file, int header, long body, String what) throws IOException {
        if (body > Integer.MAX_VALUE - 16) {
            throw new DataFormatException(file + ": header claims " + what + " = " + body
                    + " bytes, more than one array can hold; the header is probably corrupt");
        }
        // Grow as data arrives rather than trusting the header, so a corrupt huge count fails as truncation.
        byte[] data = new byte[(int) Math.min(body, 1 << 20)];
        int got = 0;
        try {
            while (got < body) {
                if (got == data.length) data = Arrays.copyOf(data, (int) Math.min(body, 2L * data.length));
                int n = in.read(data, got, data.length - got);
                if (n < 0) break;
                got += n;
            }
        } catch (EOFException e) {
            // GZIPInputStream's way of saying the compressed file itself was cut short.
            throw new DataFormatException(file + ": truncated file: expected " + (header + body) + " bytes ("
                    + what + "), found " + (header + got) + " before the gzip stream ended unexpectedly", e);
        }
        if (got < body) {
            throw new DataFormatException(file + ": truncated file: expected " + (header + body) + " bytes ("
                    + what + "), found " + (header + got) + contentNote(file));
        }
        long extra = in.transferTo(OutputStream.nullOutputStream());
        if (extra > 0) {
            throw new DataFormatException(file + ": trailing garbage: " + extra + " bytes after the " + what
                    + " (expected " + (header + body) + " bytes, found " + (header + body + extra) + ")"
                    + contentNote(file));
        }
        return data;
    }

    private static String contentNote(Path file) throws IOException {
        try (InputStream raw = Files.newInputStream(file)) {
            int b0 = raw.read(), b1 = raw.read();
            return b0 == 0x1f && b1 == 0x8b ? " after gzip decompression" : "";
        }
    }

    private static int readInt(byte[] b, int at) {
        return (b[at] & 0xFF) << 24 | (b[at + 1] & 0xFF) << 16 | (b[at + 2] & 0xFF) << 8 | (b[at + 3] & 0xFF);
    }

    private static String hex(int v) {
        return String.format("0x%08x", v);
    }
}
