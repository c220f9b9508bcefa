package org.addernet.data;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/**
 * src/test/resources/jpeg: images and PIL/torch reference outputs written by scripts/make-jpeg-fixtures.py
 * (format in manifest.txt's header), plus small JPEG writers for images made in the tests.
 */
final class JpegFixtures {
    private JpegFixtures() {
    }

    static Path dir() {
        try {
            return Path.of(JpegFixtures.class.getResource("/jpeg/manifest.txt").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] bytes(String name) {
        try {
            return Files.readAllBytes(dir().resolve(name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The manifest's case lines starting with {@code kind}, split on whitespace. */
    static List<String[]> cases(String kind) {
        List<String[]> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(dir().resolve("manifest.txt"))) {
                String[] f = line.trim().split("\\s+");
                if (!line.startsWith("#") && f[0].equals(kind)) out.add(f);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** A raw HWC reference (.rgb) as an image. */
    static RgbImage rgb(String name, int width, int height) {
        return new RgbImage(width, height, bytes(name));
    }

    /** A raw little-endian float32 reference (.f32). */
    static float[] f32(String name) {
        byte[] b = bytes(name);
        float[] f = new float[b.length / 4];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }

    /** Mean and max absolute difference of two equally long uint8 arrays. */
    static double[] diff(byte[] a, byte[] b) {
        if (a.length != b.length) throw new AssertionError("lengths " + a.length + " vs " + b.length);
        long sum = 0;
        int max = 0;
        for (int i = 0; i < a.length; i++) {
            int d = Math.abs((a[i] & 0xFF) - (b[i] & 0xFF));
            sum += d;
            max = Math.max(max, d);
        }
        return new double[] {(double) sum / a.length, max};
    }

    /** A JPEG of {@code img} (TYPE_3BYTE_BGR or TYPE_BYTE_GRAY) at the given quality, written by ImageIO. */
    static byte[] jpeg(BufferedImage img, float quality) {
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(bos)) {
            w.setOutput(out);
            ImageWriteParam p = w.getDefaultWriteParam();
            p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            p.setCompressionQuality(quality);
            w.write(null, new IIOImage(img, null, null), p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            w.dispose();
        }
        return bos.toByteArray();
    }

    /** A w x h RGB JPEG of a smooth pattern (value depends on x, y and {@code seed}). */
    static byte[] patternJpeg(int w, int h, int seed) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int r = (x * 255 / Math.max(w - 1, 1) + 37 * seed) & 0xFF;
                int g = (y * 255 / Math.max(h - 1, 1) + 91 * seed) & 0xFF;
                int b = ((x + y) * 3 + 17 * seed) & 0xFF;
                img.setRGB(x, y, (r << 16) | (g << 8) | b);
            }
        }
        return jpeg(img, 0.9f);
    }
}
