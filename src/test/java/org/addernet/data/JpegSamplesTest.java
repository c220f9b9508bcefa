package org.addernet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.addernet.engine.ThreadPool;
import org.junit.jupiter.api.Test;

class JpegSamplesTest {
    private static final String[] FILES = {"rgb_64x48.jpg", "progressive_64x48.jpg", "gray_64x48.jpg", "cmyk_40x30.jpg",
        "odd_37x23.jpg", "one_1x1.jpg", "thin_3x100.jpg", "wide_99x17.jpg", "png_named.JPEG"};
    private static final long SEED = 42;

    /** Sample i's bytes: the fixture files, then two JPEGs made here (300x200 and 150x400). */
    private static byte[] imageBytes(int i) {
        return i < FILES.length ? JpegFixtures.bytes(FILES[i]) : JpegFixtures.patternJpeg(i == 9 ? 300 : 150, i == 9 ? 200 : 400, i);
    }

    /** 11 images in three chunks with an empty one between; ids 500 + 7*i, labels i % 4; sample 2 replaced by {@code badAt2}. */
    private static List<EncodedImages> chunks(String badAt2) {
        EncodedImages.Builder a = EncodedImages.builder("c0", 4), b = EncodedImages.builder("c1", 4), c = EncodedImages.builder("c2", 4);
        for (int i = 0; i < 11; i++) {
            byte[] bytes = imageBytes(i);
            String path = i < FILES.length ? "fixtures/" + FILES[i] : "made/" + i + ".JPEG";
            if (i == 2 && badAt2 != null) {
                bytes = JpegFixtures.bytes(badAt2);
                path = "fixtures/" + badAt2;
            }
            (i < 4 ? a : i < 6 ? b : c).add(500 + 7 * i, i % 4, path, bytes);
        }
        return List.of(a.build(), EncodedImages.builder("empty", 4).build(), b.build(), c.build());
    }

    @Test
    void numbersSamplesAcrossChunks() {
        JpegSamples s = new JpegSamples("train", chunks(null), new ImageTransforms(32, 36), true, SEED);
        assertEquals(11, s.count());
        assertEquals(4, s.numClasses());
        assertArrayEquals(new int[] {3, 32, 32}, s.shape());
        assertEquals(3 * 32 * 32, s.sampleSize());
        for (int i = 0; i < 11; i++) {
            assertEquals(500 + 7 * i, s.id(i));
            assertEquals(i % 4, s.label(i));
            assertEquals(i < FILES.length ? "fixtures/" + FILES[i] : "made/" + i + ".JPEG", s.source(i));
        }
        assertThrows(IndexOutOfBoundsException.class, () -> s.id(11));
        assertThrows(IndexOutOfBoundsException.class, () -> s.label(-1));
    }

    /** Each sample's floats depend only on (seed, epoch, id): not on batch order, batch split or thread count. */
    @Test
    void fillIsIndependentOfBatchAndThreads() {
        JpegSamples s = new JpegSamples("train", chunks(null), new ImageTransforms(32, 36), true, SEED);
        int ss = s.sampleSize(), n = s.count();
        float[][] want = new float[n][ss];
        ImageTransforms t = s.transforms();
        try (JpegDecoder d = new JpegDecoder()) {
            for (int i = 0; i < n; i++) {
                RgbImage img = d.decode(imageBytes(i), "x");
                t.train(img, SEED, 3, 500 + 7 * i, want[i], 0, new BilinearResize(), new byte[t.scratchSize()]);
            }
        }
        int[] order = {10, 3, 0, 7, 1, 9, 2, 8, 4, 6, 5, 3};
        for (int threads : new int[] {0, 1, 2, 3}) {
            try (ThreadPool pool = threads == 0 ? null : new ThreadPool(threads)) {
                for (int from : new int[] {0, 5}) {
                    int m = order.length - from;
                    float[] x = new float[m * ss];
                    int[] y = new int[m];
                    s.fill(3, order, from, m, x, y, pool);
                    for (int k = 0; k < m; k++) {
                        int i = order[from + k];
                        assertEquals(i % 4, y[k]);
                        assertArrayEquals(want[i], Arrays.copyOfRange(x, k * ss, (k + 1) * ss), 0f,
                                "sample " + i + ", " + threads + " threads, batch from " + from);
                    }
                }
            }
        }
        float[] other = new float[ss];
        s.fillSample(4, 0, other, 0);
        assertFalse(Arrays.equals(want[0], other), "the next epoch draws another crop");
    }

    @Test
    void evalIsTheCentreCropEveryEpoch() {
        JpegSamples s = new JpegSamples("val", chunks(null), new ImageTransforms(24, 28), false, SEED);
        int ss = s.sampleSize();
        float[] a = new float[ss], b = new float[ss], want = new float[ss];
        ImageTransforms t = s.transforms();
        t.eval(new JpegDecoder().decode(JpegFixtures.bytes(FILES[1]), "p"), want, 0, new BilinearResize(), new byte[t.scratchSize()]);
        s.fillSample(0, 1, a, 0);
        s.fillSample(9, 1, b, 0);
        assertArrayEquals(want, a, 0f);
        assertArrayEquals(want, b, 0f);
        float[] x = new float[2 * ss];
        int[] y = new int[2];
        try (ThreadPool pool = new ThreadPool(2)) {
            s.fill(5, new int[] {4, 1}, 0, 2, x, y, pool);
        }
        assertArrayEquals(want, Arrays.copyOfRange(x, ss, 2 * ss), 0f);
        assertArrayEquals(new int[] {0, 1}, y);
    }

    @Test
    void aBadImageFailsFillWithItsPath() {
        JpegSamples s = new JpegSamples("train", chunks("truncated.jpg"), new ImageTransforms(16, 16), true, SEED);
        int ss = s.sampleSize();
        float[] x = new float[4 * ss];
        int[] y = new int[4];
        s.fill(0, new int[] {0, 1, 3, 4}, 0, 4, x, y, null); // sample 2 is not in this batch
        for (int threads : new int[] {0, 2}) {
            try (ThreadPool pool = threads == 0 ? null : new ThreadPool(threads)) {
                DataFormatException e = assertThrows(DataFormatException.class,
                        () -> s.fill(0, new int[] {0, 1, 2, 3}, 0, 4, x, y, pool));
                assertTrue(e.getMessage().startsWith("fixtures/truncated.jpg: "), e.getMessage());
            }
        }
        DataFormatException v = assertThrows(DataFormatException.class, () -> JpegSamples.validate(chunks("truncated.jpg").get(0)));
        assertTrue(v.getMessage().startsWith("fixtures/truncated.jpg: "), v.getMessage());
        for (EncodedImages e : chunks(null)) JpegSamples.validate(e);
        JpegSamples.validate(JpegFixtures.bytes("cmyk_40x30.jpg"), "ok");
    }

    @Test
    void rejectsBadArguments() {
        assertThrows(IllegalArgumentException.class, () -> new JpegSamples("x", List.of(), new ImageTransforms(), true, 0));
        assertThrows(IllegalArgumentException.class, () -> new JpegSamples("x",
                List.of(EncodedImages.builder("a", 3).build(), EncodedImages.builder("b", 4).build()), new ImageTransforms(), true, 0));
        JpegSamples s = new JpegSamples("train", chunks(null), new ImageTransforms(8, 8), true, SEED);
        assertThrows(IllegalArgumentException.class, () -> s.fill(0, new int[] {0, 1}, 0, 2, new float[3 * 64], new int[2], null));
        assertThrows(IndexOutOfBoundsException.class, () -> s.fill(0, new int[] {0, 1}, 1, 2, new float[6 * 64], new int[2], null));
    }
}
