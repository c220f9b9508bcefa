package org.addernet.data;

import java.awt.image.BufferedImage;
import java.awt.image.DataBuffer;
import java.awt.image.DataBufferByte;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicIntegerArray;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import org.addernet.engine.Rng;
import org.addernet.engine.ThreadPool;

/**
 * Writes a synthetic ImageNet in the ImageFolder layout, for benchmarks and tests of the JPEG pipeline where
 * ImageNet is not available: {@code root/train/<wnid>/<wnid>_<j>.JPEG} and
 * {@code root/val/<wnid>/ILSVRC2012_val_<n>.JPEG}, class folders {@code n00000000, n00000001, ...}.
 *
 * <p>Each class has its own look: a shape (disc, square, diamond or ring) in a class colour with stripes of a class
 * frequency and angle, over a two-colour gradient background in class colours. Every image places, sizes and
 * tints its shape at random and adds noise, so a network can learn the classes; nothing about ImageNet accuracy
 * follows from it. Images are 60..640 px per side with varied aspect ratios, JPEG quality 75..95, some
 * progressive. Like ImageNet, a few are not plain RGB JPEGs: about 2% grayscale JPEGs, about 0.3% Adobe CMYK
 * JPEGs (as Photoshop writes them), and train image 3 is a PNG named {@code .JPEG}; image 1 of each split is
 * CMYK and image 2 grayscale, so even a tiny tree has each kind.
 *
 * <p>Deterministic: the same arguments write the same bytes (draws from {@code Rng.derive(seed, ...)} per image,
 * whatever the thread count).
 */
public final class SyntheticImageNet {
    private static final int MIN_SIDE = 60, MAX_SIDE = 640;
    private static final long CLASS_TAG = 0x434C_4153L, TRAIN_TAG = 0x5452_4149L, VAL_TAG = 0x5641_4CL;

    /** Kinds of files written, for the summary: index 0 RGB JPEG, 1 grayscale JPEG, 2 CMYK JPEG, 3 PNG. */
    private static final String[] KINDS = {"rgb", "gray", "cmyk", "png"};

    private SyntheticImageNet() {
    }

    /** ImageNet-style folder name of class {@code k}. */
    public static String className(int k) {
        return String.format(Locale.ROOT, "n%08d", k);
    }

    /** Writes the tree (train and val) under {@code root}; returns nothing, see {@link #main} for a summary. */
    public static void generate(Path root, int classes, int trainPerClass, int valPerClass, long seed) throws IOException {
        generate(root, classes, trainPerClass, valPerClass, seed, Runtime.getRuntime().availableProcessors());
    }

    /** As above on {@code threads} threads; the output does not depend on the thread count. Returns counts per kind. */
    static int[] generate(Path root, int classes, int trainPerClass, int valPerClass, long seed, int threads) throws IOException {
        if (classes < 1 || trainPerClass < 0 || valPerClass < 0) {
            throw new IllegalArgumentException("need classes >= 1 and image counts >= 0, got " + classes + ", "
                    + trainPerClass + ", " + valPerClass);
        }
        for (int k = 0; k < classes; k++) {
            Files.createDirectories(root.resolve("train").resolve(className(k)));
            Files.createDirectories(root.resolve("val").resolve(className(k)));
        }
        AtomicIntegerArray kinds = new AtomicIntegerArray(KINDS.length);
        try (ThreadPool pool = new ThreadPool(Math.max(1, threads))) {
            pool.parallelFor(classes, (t, a, b) -> {
                for (int k = a; k < b; k++) {
                    for (int j = 0; j < trainPerClass; j++) {
                        int g = k * trainPerClass + j;
                        Path f = root.resolve("train").resolve(className(k)).resolve(className(k) + "_" + j + ".JPEG");
                        kinds.incrementAndGet(write(f, k, Rng.derive(seed, TRAIN_TAG, k, j), g, true, seed));
                    }
                    for (int j = 0; j < valPerClass; j++) {
                        int g = k * valPerClass + j;
                        Path f = root.resolve("val").resolve(className(k))
                                .resolve(String.format(Locale.ROOT, "ILSVRC2012_val_%08d.JPEG", g + 1));
                        kinds.incrementAndGet(write(f, k, Rng.derive(seed, VAL_TAG, k, j), g, false, seed));
                    }
                }
            });
        }
        int[] out = new int[KINDS.length];
        for (int i = 0; i < out.length; i++) out[i] = kinds.get(i);
        return out;
    }

    /** Renders and writes one image; returns its kind (index into KINDS). */
    private static int write(Path file, int k, Rng rng, int g, boolean train, long seed) {
        int w = MIN_SIDE + rng.nextInt(MAX_SIDE - MIN_SIDE + 1);
        double aspect = Math.exp(Math.log(0.5) + Math.log(4) * rng.nextDouble()); // w/h in [1/2, 2]
        int h = Math.max(MIN_SIDE, Math.min(MAX_SIDE, (int) Math.round(w / aspect)));
        RgbImage img = render(w, h, Rng.derive(seed, CLASS_TAG, k), rng);
        float quality = 0.75f + 0.2f * rng.nextFloat();
        boolean progressive = rng.nextInt(10) == 0;
        int draw = rng.nextInt(1000);
        int kind = train && g == 3 ? 3 : g == 1 || draw < 3 ? 2 : g == 2 || draw < 23 ? 1 : 0;
        byte[] bytes = switch (kind) {
            case 1 -> jpeg(grayImage(img), quality, progressive);
            case 2 -> cmykJpeg(img);
            case 3 -> png(img);
            default -> jpeg(rgbImage(img), quality, progressive);
        };
        try {
            Files.write(file, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return kind;
    }

    /** The class look (from {@code cls}, the same for every image of the class) placed and tinted by {@code rng}. */
    private static RgbImage render(int w, int h, Rng cls, Rng rng) {
        double hue = cls.nextDouble();
        double[] fg = hsv(hue, 0.65 + 0.3 * cls.nextDouble(), 0.75 + 0.25 * cls.nextDouble());
        double[] bg1 = hsv(hue + 0.3 + 0.4 * cls.nextDouble(), 0.2 + 0.3 * cls.nextDouble(), 0.5 + 0.4 * cls.nextDouble());
        double[] bg2 = hsv(hue + 0.3 + 0.4 * cls.nextDouble(), 0.2 + 0.3 * cls.nextDouble(), 0.15 + 0.3 * cls.nextDouble());
        int shape = cls.nextInt(4);
        double stripeCycles = 1 + cls.nextInt(6), stripeAngle = Math.PI * cls.nextDouble(), bgAngle = 2 * Math.PI * cls.nextDouble();

        int side = Math.min(w, h);
        double r = side * (0.2 + 0.2 * rng.nextDouble());
        double cx = w * (0.25 + 0.5 * rng.nextDouble()), cy = h * (0.25 + 0.5 * rng.nextDouble());
        double[] tint = {0.85 + 0.3 * rng.nextDouble(), 0.85 + 0.3 * rng.nextDouble(), 0.85 + 0.3 * rng.nextDouble()};
        double noise = (6 + 14 * rng.nextDouble()) / 128; // per unit of the triangular bytes difference below
        double sa = Math.sin(stripeAngle), ca = Math.cos(stripeAngle), kf = Math.PI * stripeCycles / r;
        double ba = Math.cos(bgAngle), bb = Math.sin(bgAngle), diag = Math.hypot(w, h);

        byte[] px = new byte[3 * w * h]; // HWC RGB
        for (int y = 0, o = 0; y < h; y++) {
            for (int x = 0; x < w; x++, o += 3) {
                double u = (x - cx) / r, v = (y - cy) / r, d2 = u * u + v * v;
                boolean in = switch (shape) {
                    case 0 -> d2 < 1;
                    case 1 -> Math.abs(u) < 0.8 && Math.abs(v) < 0.8;
                    case 2 -> Math.abs(u) + Math.abs(v) < 1.1;
                    default -> d2 > 0.35 && d2 < 1;
                };
                long bits = rng.nextLong();
                for (int c = 0; c < 3; c++) {
                    double val;
                    if (in) {
                        double s = 0.5 + 0.5 * Math.sin(kf * (x * ca + y * sa));
                        val = fg[c] * tint[c] * (0.55 + 0.45 * s);
                    } else {
                        double t = 0.5 + 0.5 * (x * ba + y * bb) / diag;
                        val = bg1[c] + (bg2[c] - bg1[c]) * t;
                    }
                    val += noise * (((bits >>> (16 * c)) & 0xFF) - ((bits >>> (16 * c + 8)) & 0xFF));
                    px[o + c] = (byte) Math.max(0, Math.min(255, (int) Math.round(val)));
                }
            }
        }
        return new RgbImage(w, h, px);
    }

    /** HSV (hue wraps) to 0..255 RGB. */
    private static double[] hsv(double hue, double s, double v) {
        double hh = (hue - Math.floor(hue)) * 6;
        int i = (int) hh % 6;
        double f = hh - Math.floor(hh), p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
        double[] rgb = switch (i) {
            case 0 -> new double[] {v, t, p};
            case 1 -> new double[] {q, v, p};
            case 2 -> new double[] {p, v, t};
            case 3 -> new double[] {p, q, v};
            case 4 -> new double[] {t, p, v};
            default -> new double[] {v, p, q};
        };
        for (int c = 0; c < 3; c++) rgb[c] *= 255;
        return rgb;
    }

    private static BufferedImage rgbImage(RgbImage img) {
        BufferedImage bi = new BufferedImage(img.width(), img.height(), BufferedImage.TYPE_3BYTE_BGR);
        byte[] dst = ((DataBufferByte) bi.getRaster().getDataBuffer()).getData(); // BGR interleaved
        byte[] src = img.pixels();
        for (int p = 0; p < src.length; p += 3) {
            dst[p] = src[p + 2];
            dst[p + 1] = src[p + 1];
            dst[p + 2] = src[p];
        }
        return bi;
    }

    private static BufferedImage grayImage(RgbImage img) {
        BufferedImage bi = new BufferedImage(img.width(), img.height(), BufferedImage.TYPE_BYTE_GRAY);
        byte[] dst = ((DataBufferByte) bi.getRaster().getDataBuffer()).getData();
        byte[] src = img.pixels();
        for (int i = 0; i < dst.length; i++) { // PIL's convert('L'): ITU-R 601-2 luma
            dst[i] = (byte) ((299 * (src[3 * i] & 0xFF) + 587 * (src[3 * i + 1] & 0xFF) + 114 * (src[3 * i + 2] & 0xFF) + 500) / 1000);
        }
        return bi;
    }

    private static byte[] jpeg(BufferedImage bi, float quality, boolean progressive) {
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        try {
            ImageWriteParam p = w.getDefaultWriteParam();
            p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            p.setCompressionQuality(quality);
            if (progressive) p.setProgressiveMode(ImageWriteParam.MODE_DEFAULT);
            return write(w, new IIOImage(bi, null, null), p);
        } finally {
            w.dispose();
        }
    }

    /**
     * A CMYK JPEG of {@code img} as Photoshop writes one: an Adobe APP14 marker (transform 0: no colour transform)
     * and inverted values (255 - C, ...). CMYK from RGB with full black generation: {@code k = min(c, m, y)},
     * {@code c' = (c - k) * 255 / (255 - k)}, which PIL's cmyk2rgb turns back into the RGB up to rounding.
     * ImageIO writes a 4-band Raster without the marker; we insert it after SOI.
     */
    static byte[] cmykJpeg(RgbImage img) {
        int w = img.width(), h = img.height();
        WritableRaster raster = Raster.createInterleavedRaster(DataBuffer.TYPE_BYTE, w, h, 4, null);
        byte[] dst = ((DataBufferByte) raster.getDataBuffer()).getData();
        byte[] src = img.pixels();
        for (int p = 0; p < w * h; p++) {
            int c = 255 - (src[3 * p] & 0xFF), m = 255 - (src[3 * p + 1] & 0xFF), y = 255 - (src[3 * p + 2] & 0xFF);
            int k = Math.min(c, Math.min(m, y));
            int scale = 255 - k;
            dst[4 * p] = (byte) (255 - (scale == 0 ? 0 : ((c - k) * 255 + scale / 2) / scale));
            dst[4 * p + 1] = (byte) (255 - (scale == 0 ? 0 : ((m - k) * 255 + scale / 2) / scale));
            dst[4 * p + 2] = (byte) (255 - (scale == 0 ? 0 : ((y - k) * 255 + scale / 2) / scale));
            dst[4 * p + 3] = (byte) (255 - k);
        }
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        byte[] plain;
        try {
            ImageWriteParam p = writer.getDefaultWriteParam();
            p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            p.setCompressionQuality(0.9f);
            plain = write(writer, new IIOImage(raster, null, null), p);
        } finally {
            writer.dispose();
        }
        // APP14: FF EE, length 14, "Adobe", version 100, flags0 0, flags1 0, transform 0.
        byte[] adobe = {(byte) 0xFF, (byte) 0xEE, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0};
        byte[] out = new byte[plain.length + adobe.length];
        System.arraycopy(plain, 0, out, 0, 2);
        System.arraycopy(adobe, 0, out, 2, adobe.length);
        System.arraycopy(plain, 2, out, 2 + adobe.length, plain.length - 2);
        return out;
    }

    private static byte[] png(RgbImage img) {
        ImageWriter w = ImageIO.getImageWritersByFormatName("png").next();
        try {
            return write(w, new IIOImage(rgbImage(img), null, null), w.getDefaultWriteParam());
        } finally {
            w.dispose();
        }
    }

    private static byte[] write(ImageWriter w, IIOImage image, ImageWriteParam p) {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(bos)) {
            w.setOutput(out);
            w.write(null, image, p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bos.toByteArray();
    }

    static final String USAGE = "SyntheticImageNet ROOT [CLASSES [TRAIN_PER_CLASS [VAL_PER_CLASS [SEED]]]]  (defaults 10 100 20 1)";

    /** Command-line entry: a usage or number error prints the usage and exits with 2. */
    public static void main(String[] args) throws IOException {
        try {
            run(args);
        } catch (IllegalArgumentException e) {
            System.err.println("SyntheticImageNet: " + e.getMessage());
            System.exit(2);
        }
    }

    /**
     * {@code ROOT [CLASSES [TRAIN_PER_CLASS [VAL_PER_CLASS [SEED]]]]}, defaults 10, 100, 20, 1; prints a summary line.
     * Bad arguments throw IllegalArgumentException (what the CLI's Main reports as a usage error).
     */
    public static void run(String[] args) throws IOException {
        if (args.length < 1 || args.length > 5 || args[0].startsWith("-")) throw new IllegalArgumentException("usage: " + USAGE);
        Path root = Path.of(args[0]);
        int classes = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        int train = args.length > 2 ? Integer.parseInt(args[2]) : 100;
        int val = args.length > 3 ? Integer.parseInt(args[3]) : 20;
        long seed = args.length > 4 ? Long.parseLong(args[4]) : 1;
        long t0 = System.nanoTime();
        int[] kinds = generate(root, classes, train, val, seed, Runtime.getRuntime().availableProcessors());
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < KINDS.length; i++) sb.append(i == 0 ? "" : ", ").append(kinds[i]).append(' ').append(KINDS[i]);
        System.out.printf(Locale.ROOT, "wrote %d classes x (%d train + %d val) images to %s (%s) in %.1f s%n",
                classes, train, val, root, sb, (System.nanoTime() - t0) / 1e9);
    }
}
