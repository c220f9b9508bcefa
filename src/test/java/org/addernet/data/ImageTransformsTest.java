package org.addernet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.addernet.engine.Rng;
import org.junit.jupiter.api.Test;

class ImageTransformsTest {
    /** Resize(r) + CenterCrop(s) + ToTensor + Normalize, against PIL + torch (torchvision's code written out). */
    @Test
    void evalMatchesTorchvisionOnPil() {
        List<String[]> cases = JpegFixtures.cases("eval");
        assertEquals(3, cases.size());
        for (String[] c : cases) {
            RgbImage src = JpegFixtures.rgb(c[1], Integer.parseInt(c[2]), Integer.parseInt(c[3]));
            ImageTransforms t = new ImageTransforms(Integer.parseInt(c[4]), Integer.parseInt(c[5]));
            byte[] scratch = new byte[t.scratchSize()];
            float[] x = new float[t.sampleSize() + 5];
            t.eval(src, x, 5, new BilinearResize(), scratch);
            assertArrayEquals(JpegFixtures.bytes(c[6]), scratch, String.join(" ", c));
            assertArrayEquals(JpegFixtures.f32(c[7]), Arrays.copyOfRange(x, 5, x.length), 0f, String.join(" ", c));
        }
    }

    /** A given crop box, resize, flip, ToTensor, Normalize: the training transform after its random draws. */
    @Test
    void trainCropMatchesTorchvisionOnPil() {
        List<String[]> cases = JpegFixtures.cases("train");
        assertEquals(3, cases.size());
        for (String[] c : cases) {
            RgbImage src = JpegFixtures.rgb(c[1], Integer.parseInt(c[2]), Integer.parseInt(c[3]));
            ImageTransforms.Box box = new ImageTransforms.Box(Integer.parseInt(c[4]), Integer.parseInt(c[5]),
                    Integer.parseInt(c[6]), Integer.parseInt(c[7]));
            boolean flip = c[8].equals("1");
            ImageTransforms t = new ImageTransforms(Integer.parseInt(c[9]), Integer.parseInt(c[9]));
            float[] x = new float[t.sampleSize()];
            t.crop(src, box, flip, x, 0, new BilinearResize(), new byte[t.scratchSize()]);
            assertArrayEquals(JpegFixtures.f32(c[11]), x, 0f, String.join(" ", c));
        }
    }

    @Test
    void resizeAndCenterCropRoundLikeTorchvision() {
        assertArrayEquals(new int[] {37, 28}, ImageTransforms.resizeShorter(64, 48, 28)); // int(28*64/48) = int(37.33)
        assertArrayEquals(new int[] {256, 341}, ImageTransforms.resizeShorter(375, 500, 256));
        assertArrayEquals(new int[] {256, 256}, ImageTransforms.resizeShorter(1, 1, 256));
        assertArrayEquals(new int[] {85333, 256}, ImageTransforms.resizeShorter(1000, 3, 256));
        // round((37-24)/2) = round(6.5) = 6 and round((257-224)/2) = round(16.5) = 16: Python rounds half to even.
        assertEquals(new ImageTransforms.Box(2, 6, 24, 24), ImageTransforms.centerCrop(28, 37, 24, 24));
        assertEquals(new ImageTransforms.Box(16, 58, 224, 224), ImageTransforms.centerCrop(257, 339, 224, 224));
        assertEquals(new ImageTransforms.Box(18, 0, 224, 224), ImageTransforms.centerCrop(259, 224, 224, 224)); // round(17.5) = 18
    }

    @Test
    void randomResizedCropStaysInTorchvisionsBounds() {
        ImageTransforms t = new ImageTransforms();
        int H = 375, W = 500, n = 20000;
        Rng rng = new Rng(11);
        double minFrac = 1, maxFrac = 0, topPos = 0;
        int flips = 0, placed = 0;
        for (int i = 0; i < n; i++) {
            ImageTransforms.Box b = t.randomResizedCrop(H, W, rng);
            assertTrue(b.width() > 0 && b.height() > 0 && b.top() >= 0 && b.left() >= 0
                    && b.top() + b.height() <= H && b.left() + b.width() <= W, b.toString());
            double frac = (double) b.width() * b.height() / (W * H);
            double ratio = (double) b.width() / b.height();
            // w and h are rounded to integers: allow ~1% on area and ratio.
            assertTrue(frac >= 0.08 * 0.99 && frac <= 1.0, "area fraction " + frac);
            assertTrue(ratio >= 0.75 * 0.99 && ratio <= 4.0 / 3 * 1.01, "ratio " + ratio);
            minFrac = Math.min(minFrac, frac);
            maxFrac = Math.max(maxFrac, frac);
            if (H > b.height()) {
                topPos += (double) b.top() / (H - b.height());
                placed++;
            }
            if (rng.nextFloat() < 0.5f) flips++;
        }
        assertTrue(minFrac < 0.081 && maxFrac > 0.95, "area fractions span the scale range: " + minFrac + " .. " + maxFrac);
        assertEquals(0.5, topPos / placed, 0.02, "top offset is uniform over the free range");
        assertEquals(0.5, (double) flips / n, 0.02);
    }

    @Test
    void randomResizedCropFallsBackToAClampedCentreCrop() {
        ImageTransforms t = new ImageTransforms();
        Rng rng = new Rng(3);
        // Far too thin for any try to fit: w = W, h = round(W / (3/4)), centred; and the transposed case.
        assertEquals(new ImageTransforms.Box(498, 0, 4, 3), t.randomResizedCrop(1000, 3, rng));
        assertEquals(new ImageTransforms.Box(0, 498, 3, 4), t.randomResizedCrop(3, 1000, rng));
        for (int i = 0; i < 100; i++) assertEquals(new ImageTransforms.Box(0, 0, 1, 1), t.randomResizedCrop(1, 1, rng));
    }

    @Test
    void trainDependsOnlyOnSeedEpochAndId() {
        RgbImage src = JpegFixtures.rgb("big_256x192.rgb", 256, 192);
        ImageTransforms t = new ImageTransforms(32, 36);
        BilinearResize r = new BilinearResize();
        byte[] s = new byte[t.scratchSize()];
        float[] a = new float[t.sampleSize()], b = new float[t.sampleSize()], c = new float[t.sampleSize()];
        t.train(src, 7L, 2, 1234, a, 0, r, s);
        t.train(src, 7L, 2, 1234, b, 0, new BilinearResize(), new byte[t.scratchSize()]);
        assertArrayEquals(a, b, 0f);
        t.train(src, Rng.derive(7L, Rng.AUGMENT, 2, 1234), c, 0, r, s);
        assertArrayEquals(a, c, 0f);
        t.train(src, 7L, 3, 1234, b, 0, r, s);
        assertFalse(Arrays.equals(a, b), "another epoch, another crop");
        t.train(src, 7L, 2, 1235, b, 0, r, s);
        assertFalse(Arrays.equals(a, b), "another sample, another crop");
        t.train(src, 8L, 2, 1234, b, 0, r, s);
        assertFalse(Arrays.equals(a, b), "another seed, another crop");
    }

    @Test
    void flipMirrorsColumns() {
        RgbImage src = JpegFixtures.rgb("rgb_64x48.rgb", 64, 48);
        ImageTransforms t = new ImageTransforms(16, 16);
        ImageTransforms.Box box = new ImageTransforms.Box(5, 7, 30, 40);
        float[] a = new float[t.sampleSize()], b = new float[t.sampleSize()];
        t.crop(src, box, false, a, 0, new BilinearResize(), new byte[t.scratchSize()]);
        t.crop(src, box, true, b, 0, new BilinearResize(), new byte[t.scratchSize()]);
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 16; y++) {
                for (int x = 0; x < 16; x++) assertEquals(a[(c * 16 + y) * 16 + x], b[(c * 16 + y) * 16 + 15 - x]);
            }
        }
    }

    @Test
    void rejectsBadParameters() {
        assertThrows(IllegalArgumentException.class, () -> new ImageTransforms(224, 200));
        assertThrows(IllegalArgumentException.class, () -> new ImageTransforms(0, 256));
        float[] m = ImageTransforms.IMAGENET_MEAN, s = ImageTransforms.IMAGENET_STD;
        assertThrows(IllegalArgumentException.class, () -> new ImageTransforms(224, 256, 0, 1, 0.75, 1.33, m, s));
        assertThrows(IllegalArgumentException.class, () -> new ImageTransforms(224, 256, 0.5, 0.4, 0.75, 1.33, m, s));
        assertThrows(IllegalArgumentException.class, () -> new ImageTransforms(224, 256, 0.08, 1, 2, 1, m, s));
        assertThrows(IllegalArgumentException.class, () -> new ImageTransforms(224, 256, 0.08, 1, 0.75, 1.33, new float[1], s));
    }
}
