package org.addernet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.addernet.engine.Rng;
import org.addernet.engine.ThreadPool;
import org.junit.jupiter.api.Test;

class BatchAssemblerTest {
    private static final float[] MEAN = {0.4914f, 0.4822f, 0.4465f};
    private static final float[] STD = {0.2470f, 0.2435f, 0.2616f};

    /** 300 random 3x32x32 images, no zero pixels so that padding is recognizable. */
    private static ImageDataset synthetic() {
        int n = 300;
        Rng r = new Rng(42);
        byte[] px = new byte[n * 3072];
        for (int k = 0; k < px.length; k++) px[k] = (byte) (1 + r.nextInt(255));
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i % 10;
        return new ImageDataset("synthetic", px, labels, 3, 32, 32, 10);
    }

    private static float[] one(BatchAssembler a, int epoch, int idx) {
        float[] x = new float[a.sampleSize()];
        a.fillSample(epoch, idx, x, 0);
        return x;
    }

    @Test
    void normalizesLikeToTensorThenNormalize() {
        ImageDataset d = IdxReader.readMnist(Fixtures.fashionSmall(), true).subset(0, 300);
        Datasets.Spec spec = Datasets.spec("fashion-mnist");
        BatchAssembler a = BatchAssembler.of(d, spec, true, 7); // no augmentation for fashion-mnist
        assertFalse(a.augment());
        int[] idx = {5, 0, 299};
        float[] x = new float[3 * 784];
        int[] y = new int[3];
        a.fill(0, idx, x, y);
        assertArrayEquals(new int[] {d.label(5), d.label(0), d.label(299)}, y);
        for (int k = 0; k < 3; k++) {
            for (int p = 0; p < 784; p++) {
                int v = d.pixel(idx[k], 0, p / 28, p % 28);
                assertEquals((v / 255f - 0.2860f) / 0.3530f, x[k * 784 + p], 0f);
            }
        }
        assertEquals(-0.2860f / 0.3530f, (0 / 255f - 0.2860f) / 0.3530f);
        // The constants are the dataset's: the normalized fixture has mean ~0 and std ~1.
        int[] all = new int[300];
        for (int i = 0; i < 300; i++) all[i] = i;
        float[] big = new float[300 * 784];
        a.fill(0, all, big, new int[300]);
        double s = 0, s2 = 0;
        for (float v : big) {
            s += v;
            s2 += v * v;
        }
        double mean = s / big.length, std = Math.sqrt(s2 / big.length - mean * mean);
        assertEquals(0, mean, 0.05);
        assertEquals(1, std, 0.05);
    }

    @Test
    void augmentationIsAFunctionOfSeedEpochAndIndexOnly() {
        ImageDataset d = synthetic();
        BatchAssembler a = new BatchAssembler(d, MEAN, STD, true, 123);
        int s = a.sampleSize();
        int[] batch = {17, 3, 250, 99, 17};
        float[] x = new float[batch.length * s];
        int[] y = new int[batch.length];
        try (ThreadPool pool = new ThreadPool(3)) {
            a.fill(4, batch, 0, batch.length, x, y, pool);
        }
        float[] alone = one(a, 4, 17);
        assertArrayEquals(alone, Arrays.copyOfRange(x, 0, s));
        assertArrayEquals(alone, Arrays.copyOfRange(x, 4 * s, 5 * s));
        assertArrayEquals(one(a, 4, 250), Arrays.copyOfRange(x, 2 * s, 3 * s));
        assertEquals(d.label(250), y[2]);
        // Another instance with the same seed agrees; another epoch or seed differs.
        assertArrayEquals(alone, one(new BatchAssembler(d, MEAN, STD, true, 123), 4, 17));
        int differentEpochs = 0, differentSeeds = 0;
        for (int i = 0; i < 20; i++) {
            if (!Arrays.equals(one(a, 4, i), one(a, 5, i))) differentEpochs++;
            if (!Arrays.equals(one(a, 4, i), one(new BatchAssembler(d, MEAN, STD, true, 124), 4, i))) differentSeeds++;
        }
        assertTrue(differentEpochs >= 15, "epochs should change the augmentation: " + differentEpochs);
        assertTrue(differentSeeds >= 15, "seeds should change the augmentation: " + differentSeeds);
    }

    /** Independent reference: pad with zero pixels, crop, flip, then ToTensor+Normalize. */
    private static float[] reference(ImageDataset d, int idx, int top, int left, boolean flip) {
        int p = BatchAssembler.PAD;
        float[] out = new float[3 * 32 * 32];
        for (int c = 0; c < 3; c++) {
            int[][] padded = new int[32 + 2 * p][32 + 2 * p];
            for (int r = 0; r < 32; r++) for (int q = 0; q < 32; q++) padded[r + p][q + p] = d.pixel(idx, c, r, q);
            for (int r = 0; r < 32; r++) {
                for (int q = 0; q < 32; q++) {
                    int v = padded[top + r][left + q];
                    int col = flip ? 31 - q : q;
                    out[(c * 32 + r) * 32 + col] = (v / 255f - MEAN[c]) / STD[c];
                }
            }
        }
        return out;
    }

    @Test
    void cropAndFlipMatchManualTransform() {
        ImageDataset d = synthetic();
        long seed = 9;
        BatchAssembler a = new BatchAssembler(d, MEAN, STD, true, seed);
        int flips = 0, checked = 0;
        Set<Integer> offsets = new HashSet<>();
        boolean sawFlippedCornerCrop = false;
        for (int idx = 0; idx < 200; idx++) {
            Rng r = Rng.derive(seed, Rng.AUGMENT, 2, idx);
            int top = r.nextInt(9), left = r.nextInt(9);
            boolean flip = r.nextFloat() < 0.5f;
            flips += flip ? 1 : 0;
            offsets.add(top * 9 + left);
            assertArrayEquals(reference(d, idx, top, left, flip), one(a, 2, idx), "sample " + idx);
            checked++;
            if (flip && top != 4 && left != 4) sawFlippedCornerCrop = true;
        }
        assertEquals(200, checked);
        assertTrue(sawFlippedCornerCrop);
        assertTrue(flips > 70 && flips < 130, "flips: " + flips);
        assertTrue(offsets.size() > 40, "distinct crop offsets: " + offsets.size());
    }

    @Test
    void paddingIsNormalizedZeroAndFlipMirrors() {
        ImageDataset d = synthetic();
        long seed = 9;
        BatchAssembler a = new BatchAssembler(d, MEAN, STD, true, seed);
        // Find a sample whose crop starts at the top-left corner (top = left = 0) and is flipped.
        for (int idx = 0; idx < d.count(); idx++) {
            Rng r = Rng.derive(seed, Rng.AUGMENT, 0, idx);
            int top = r.nextInt(9), left = r.nextInt(9);
            boolean flip = r.nextFloat() < 0.5f;
            if (top != 0 || left != 0 || !flip) continue;
            float[] x = one(a, 0, idx);
            float pad0 = (0 - MEAN[0]) / STD[0];
            // Rows 0..3 are padding; after the flip the padded columns are the last four.
            assertEquals(pad0, x[0], 0f);
            assertEquals(pad0, x[3 * 32 + 20], 0f);
            assertEquals(pad0, x[10 * 32 + 31], 0f);
            // Output (row 10, col 0) = cropped (10, 31) = padded (10, 31) = original (6, 27).
            assertEquals((d.pixel(idx, 0, 6, 27) / 255f - MEAN[0]) / STD[0], x[10 * 32], 0f);
            return;
        }
        throw new AssertionError("no sample with a corner crop and a flip in 300 draws");
    }
}
