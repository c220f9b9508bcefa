package org.addernet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticImageNetTest {
    private static List<Path> files(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).map(root::relativize).sorted().toList();
        }
    }

    @Test
    void writesAReadableDeterministicImageFolderTree(@TempDir Path tmp) throws IOException {
        Path a = tmp.resolve("a"), b = tmp.resolve("b"), c = tmp.resolve("c");
        int[] kinds = SyntheticImageNet.generate(a, 3, 5, 2, 7, 2);
        assertEquals(21, kinds[0] + kinds[1] + kinds[2] + kinds[3]);
        assertTrue(kinds[1] >= 1 && kinds[2] >= 2 && kinds[3] == 1, "gray, CMYK (one per split), one PNG: " + kinds[1] + ", " + kinds[2] + ", " + kinds[3]);
        List<Path> names = files(a);
        assertEquals(21, names.size());
        assertTrue(names.contains(Path.of("train", "n00000002", "n00000002_4.JPEG")), names.toString());
        assertTrue(names.contains(Path.of("val", "n00000001", "ILSVRC2012_val_00000004.JPEG")), names.toString());

        double[][] meanRgb = new double[3][3];
        try (JpegDecoder d = new JpegDecoder()) {
            for (Path p : names) {
                RgbImage img = d.decode(Files.readAllBytes(a.resolve(p)), p.toString());
                assertTrue(img.width() >= 60 && img.width() <= 640 && img.height() >= 60 && img.height() <= 640, p + " " + img);
                int k = Integer.parseInt(p.getName(1).toString().substring(1));
                for (int ch = 0; ch < 3; ch++) {
                    long sum = 0;
                    for (int i = ch; i < img.pixels().length; i += 3) sum += img.pixels()[i] & 0xFF;
                    meanRgb[k][ch] += (double) sum / (img.width() * img.height()) / 7;
                }
            }
        }
        for (int k = 1; k < 3; k++) {
            double dist = 0;
            for (int ch = 0; ch < 3; ch++) dist += Math.abs(meanRgb[k][ch] - meanRgb[0][ch]);
            assertTrue(dist > 10, "classes 0 and " + k + " look alike: mean colour distance " + dist);
        }

        SyntheticImageNet.generate(b, 3, 5, 2, 7, 1); // another thread count: the same bytes
        assertEquals(names, files(b));
        for (Path p : names) assertArrayEquals(Files.readAllBytes(a.resolve(p)), Files.readAllBytes(b.resolve(p)), p.toString());
        SyntheticImageNet.generate(c, 3, 5, 2, 8, 2);
        assertFalse(Arrays.equals(Files.readAllBytes(a.resolve(names.get(0))), Files.readAllBytes(c.resolve(names.get(0)))),
                "another seed, other images");
    }

    /** The CMYK writer: Adobe marker, inverted values; decodes back to the colour (checked against PIL by hand). */
    @Test
    void cmykJpegRoundTrips() {
        for (int[] rgb : new int[][] {{200, 100, 50}, {10, 240, 128}, {0, 0, 0}, {255, 255, 255}}) {
            byte[] cmyk = SyntheticImageNet.cmykJpeg(new RgbImage(16, 8, JpegDecoderTest.filled(16, 8, rgb[0], rgb[1], rgb[2])));
            assertEquals(0, JpegDecoder.JpegHeader.parse(cmyk, 0, cmyk.length).adobeTransform());
            try (JpegDecoder d = new JpegDecoder()) {
                RgbImage img = d.decode(cmyk, "cmyk");
                for (int p = 0; p < 16 * 8; p++) {
                    for (int ch = 0; ch < 3; ch++) {
                        int got = img.pixels()[3 * p + ch] & 0xFF;
                        assertTrue(Math.abs(got - rgb[ch]) <= 4, "channel " + ch + ": " + got + " for " + rgb[ch]);
                    }
                }
            }
        }
    }
}
