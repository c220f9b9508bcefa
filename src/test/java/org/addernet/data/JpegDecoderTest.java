package org.addernet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.junit.jupiter.api.Test;

class JpegDecoderTest {
    /**
     * JPEG decoders may differ from PIL's libjpeg-turbo by IDCT and chroma-upsampling rounding: mean absolute
     * difference below 1 level and no pixel more than 8 levels off. Lossless formats (PNG) must match exactly.
     */
    private static final double MAX_MEAN_DIFF = 1.0;
    private static final int MAX_DIFF = 8;

    @Test
    void decodesEveryFixtureLikePil() {
        List<String[]> cases = JpegFixtures.cases("decode");
        assertTrue(cases.size() >= 14, "manifest lists the decode fixtures");
        try (JpegDecoder d = new JpegDecoder()) {
            for (String[] c : cases) {
                String file = c[1];
                int w = Integer.parseInt(c[2]), h = Integer.parseInt(c[3]);
                boolean exact = c[5].equals("1");
                RgbImage img = d.decode(JpegFixtures.bytes(file), "fixtures/" + file);
                assertEquals(w, img.width(), file);
                assertEquals(h, img.height(), file);
                byte[] ref = JpegFixtures.bytes(c[6]);
                if (exact) {
                    assertArrayEquals(ref, img.pixels(), file + " (" + c[4] + ") must match PIL exactly");
                } else {
                    double[] diff = JpegFixtures.diff(ref, img.pixels());
                    assertTrue(diff[0] < MAX_MEAN_DIFF && diff[1] <= MAX_DIFF,
                            file + " (" + c[4] + ") vs PIL: mean abs diff " + diff[0] + ", max " + diff[1]);
                }
            }
        }
    }

    @Test
    void grayscaleIsReplicatedToThreeChannels() {
        try (JpegDecoder d = new JpegDecoder()) {
            RgbImage img = d.decode(JpegFixtures.bytes("gray_64x48.jpg"), "gray");
            for (int p = 0; p < img.width() * img.height(); p++) {
                assertEquals(img.pixels()[3 * p], img.pixels()[3 * p + 1]);
                assertEquals(img.pixels()[3 * p], img.pixels()[3 * p + 2]);
            }
        }
    }

    /** The CMYK path on its own: the raw raster converted as libjpeg + PIL do; and the header fields it relies on. */
    @Test
    void rawCmykAndYcckRastersConvertLikePil() throws IOException {
        for (String name : new String[] {"cmyk_40x30", "ycck_40x30"}) {
            byte[] bytes = JpegFixtures.bytes(name + ".jpg");
            int transform = JpegDecoder.JpegHeader.parse(bytes, 0, bytes.length).adobeTransform();
            assertEquals(name.startsWith("ycck") ? 2 : 0, transform, name);
            Raster raster;
            try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
                ImageReader r = ImageIO.getImageReaders(in).next();
                r.setInput(in);
                raster = r.readRaster(0, null);
                r.dispose();
            }
            assertEquals(4, raster.getNumBands());
            RgbImage img = JpegDecoder.fromRawCmyk(raster, transform);
            double[] diff = JpegFixtures.diff(JpegFixtures.bytes(name + ".rgb"), img.pixels());
            assertTrue(diff[0] < MAX_MEAN_DIFF && diff[1] <= MAX_DIFF, name + ": mean " + diff[0] + ", max " + diff[1]);
        }
        for (String[] c : new String[][] {{"rgb_64x48.jpg", "3", "-1"}, {"gray_64x48.jpg", "1", "-1"}, {"cmyk_40x30.jpg", "4", "0"},
            {"progressive_64x48.jpg", "3", "-1"}, {"png_named.JPEG", "-1", "-1"}}) {
            byte[] b = JpegFixtures.bytes(c[0]);
            JpegDecoder.JpegHeader h = JpegDecoder.JpegHeader.parse(b, 0, b.length);
            assertEquals(Integer.parseInt(c[1]), h.components(), c[0]);
            assertEquals(Integer.parseInt(c[2]), h.adobeTransform(), c[0]);
        }
    }

    @Test
    void oddSizesDecode() {
        int[][] sizes = {{1, 1}, {3, 1000}, {999, 17}, {17, 999}, {2, 2}};
        try (JpegDecoder d = new JpegDecoder()) {
            for (int[] s : sizes) {
                // A flat colour survives JPEG almost unchanged, whatever the block alignment.
                BufferedImage bi = new BufferedImage(s[0], s[1], BufferedImage.TYPE_3BYTE_BGR);
                int[] row = new int[s[0]];
                Arrays.fill(row, 0xC86432);
                for (int y = 0; y < s[1]; y++) bi.setRGB(0, y, s[0], 1, row, 0, s[0]);
                RgbImage img = d.decode(JpegFixtures.jpeg(bi, 0.95f), s[0] + "x" + s[1]);
                assertEquals(s[0], img.width());
                assertEquals(s[1], img.height());
                int[] want = {0xC8, 0x64, 0x32};
                for (int p = 0; p < s[0] * s[1]; p++) {
                    for (int c = 0; c < 3; c++) {
                        assertTrue(Math.abs((img.pixels()[3 * p + c] & 0xFF) - want[c]) <= 3, s[0] + "x" + s[1] + " pixel " + p);
                    }
                }
            }
        }
    }

    /** Layouts off the fast path: 16-bit samples (high byte, as PIL reads 16-bit RGB) and 1-bit black/white. */
    @Test
    void sixteenBitAndOneBitPngs() throws IOException {
        BufferedImage g16 = new BufferedImage(5, 3, BufferedImage.TYPE_USHORT_GRAY);
        BufferedImage bw = new BufferedImage(5, 3, BufferedImage.TYPE_BYTE_BINARY);
        for (int p = 0; p < 15; p++) {
            g16.getRaster().setSample(p % 5, p / 5, 0, p * 4000 + 123);
            bw.getRaster().setSample(p % 5, p / 5, 0, p % 2);
        }
        try (JpegDecoder d = new JpegDecoder()) {
            RgbImage a = d.decode(png(g16), "g16.png"), b = d.decode(png(bw), "bw.png");
            for (int p = 0; p < 15; p++) {
                for (int c = 0; c < 3; c++) {
                    assertEquals((p * 4000 + 123) >> 8, a.pixels()[3 * p + c] & 0xFF, "16-bit sample " + p);
                    assertEquals(p % 2 * 255, b.pixels()[3 * p + c] & 0xFF, "1-bit sample " + p);
                }
            }
        }
    }

    private static byte[] png(BufferedImage img) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        assertTrue(ImageIO.write(img, "png", bos));
        return bos.toByteArray();
    }

    @Test
    void badInputsNameThePath() {
        byte[] good = JpegFixtures.bytes("rgb_64x48.jpg");
        byte[] png = JpegFixtures.bytes("png_named.JPEG");
        // Garbled frame header, garbled scan header, everything after SOI garbled: PIL rejects all three too.
        // (Garbled Huffman tables or scan data only make garbage pixels, to PIL as to libjpeg: not detectable.)
        byte[] noFrame = good.clone(), noScan = good.clone(), noHeaders = good.clone();
        int sof = indexOf(good, (byte) 0xFF, (byte) 0xC0), sos = indexOf(good, (byte) 0xFF, (byte) 0xDA);
        Arrays.fill(noFrame, sof, sof + 20, (byte) 0x5A);
        Arrays.fill(noScan, sos, sos + 30, (byte) 0x5A);
        Arrays.fill(noHeaders, 2, good.length, (byte) 0x5A);
        byte[][] bad = {
            JpegFixtures.bytes("truncated.jpg"),
            Arrays.copyOf(good, 2), Arrays.copyOf(good, 20), Arrays.copyOf(good, 200), Arrays.copyOf(good, good.length / 2),
            Arrays.copyOf(good, good.length - 10), Arrays.copyOf(good, good.length - 2), // the last: no EOI marker, as PIL
            new byte[0],
            "this is not an image\n".getBytes(StandardCharsets.US_ASCII),
            noFrame, noScan, noHeaders,
            Arrays.copyOf(png, png.length - 30),
            {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, 1, 2, 3, 4, 5, 6, 7},
        };
        try (JpegDecoder d = new JpegDecoder()) {
            for (int i = 0; i < bad.length; i++) {
                String path = "/data/train/n01/bad_" + i + ".JPEG";
                byte[] b = bad[i];
                DataFormatException e = assertThrows(DataFormatException.class, () -> d.decode(b, path), "case " + i);
                assertTrue(e.getMessage().startsWith(path + ": "), e.getMessage());
                DataFormatException v = assertThrows(DataFormatException.class, () -> d.validate(b, 0, b.length, path), "case " + i);
                assertTrue(v.getMessage().startsWith(path + ": "), v.getMessage());
                // The decoder is still usable after a failure.
                assertEquals(64, d.decode(good, "good").width());
            }
            String msg = assertThrows(DataFormatException.class, () -> d.decode(JpegFixtures.bytes("truncated.jpg"), "t.jpg")).getMessage();
            assertTrue(msg.contains("truncated"), msg);
            assertTrue(assertThrows(DataFormatException.class, () -> d.decode(new byte[0], "e")).getMessage().contains("empty"));
            assertTrue(assertThrows(DataFormatException.class, () -> d.decode("GIF? no".getBytes(StandardCharsets.US_ASCII), "n"))
                    .getMessage().contains("not an image"));
        }
    }

    @Test
    void decompressionBombIsRejectedBeforeDecoding() {
        byte[] b = JpegFixtures.bytes("rgb_64x48.jpg").clone();
        int sof = indexOf(b, (byte) 0xFF, (byte) 0xC0); // baseline SOF0: FF C0, length(2), precision(1), height(2), width(2)
        b[sof + 5] = b[sof + 7] = (byte) 0xEA; // 60000 x 60000
        b[sof + 6] = b[sof + 8] = (byte) 0x60;
        String msg = assertThrows(DataFormatException.class, () -> JpegSamples.validate(b, "bomb.jpg")).getMessage();
        assertTrue(msg.startsWith("bomb.jpg: 60000x60000"), msg);
    }

    @Test
    void decodesASubrangeOfALargerArray() {
        byte[] good = JpegFixtures.bytes("odd_37x23.jpg");
        byte[] padded = new byte[good.length + 100];
        System.arraycopy(good, 0, padded, 60, good.length);
        try (JpegDecoder d = new JpegDecoder()) {
            assertArrayEquals(d.decode(good, "a").pixels(), d.decode(padded, 60, good.length, "b").pixels());
        }
    }

    static byte[] filled(int w, int h, int r, int g, int b) {
        byte[] px = new byte[3 * w * h];
        for (int p = 0; p < w * h; p++) {
            px[3 * p] = (byte) r;
            px[3 * p + 1] = (byte) g;
            px[3 * p + 2] = (byte) b;
        }
        return px;
    }

    private static int indexOf(byte[] b, byte x, byte y) {
        for (int i = 0; i + 1 < b.length; i++) if (b[i] == x && b[i + 1] == y) return i;
        throw new AssertionError("marker not found");
    }
}
