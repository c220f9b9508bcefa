package org.addernet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class SamplerTest {
    private static int[] epoch(Sampler s, int e) {
        int[] all = new int[0];
        for (int step = 0; step < s.stepsPerEpoch(); step++) {
            for (int p = 0; p < s.workers(); p++) {
                int[] idx = global(s, p, s.indices(e, p, step));
                int n = all.length;
                all = Arrays.copyOf(all, n + idx.length);
                System.arraycopy(idx, 0, all, n, idx.length);
            }
        }
        return all;
    }

    /** Dataset indices of strided shard positions. */
    private static int[] global(Sampler s, int p, int[] positions) {
        int[] g = new int[positions.length];
        for (int k = 0; k < g.length; k++) g[k] = p + positions[k] * s.workers();
        return g;
    }

    @Test
    void singleWorkerCoversEverySampleOnceAndKeepsTheLastPartialBatch() {
        Sampler s = new Sampler(1003, 1, 100, 5);
        assertFalse(s.dropLast());
        assertEquals(11, s.stepsPerEpoch());
        assertEquals(3, s.indices(0, 0, 10).length);
        for (int e = 0; e < 3; e++) {
            int[] all = epoch(s, e);
            int[] sorted = all.clone();
            Arrays.sort(sorted);
            for (int i = 0; i < 1003; i++) assertEquals(i, sorted[i]);
        }
        assertFalse(Arrays.equals(epoch(s, 0), epoch(s, 1)), "a new shuffle each epoch");
        assertArrayEquals(epoch(s, 1), epoch(new Sampler(1003, 1, 100, 5), 1), "same seed, same order");
        assertFalse(Arrays.equals(epoch(s, 1), epoch(new Sampler(1003, 1, 100, 6), 1)));
    }

    @Test
    void partitionsHoldFixedStridedShards() {
        Sampler s = new Sampler(1003, 4, 100, 5);
        assertTrue(s.dropLast());
        assertEquals(25, s.perWorkerBatch());
        // Shards of 251, 251, 251, 250: floor(250 / 25) = 10 full steps.
        assertEquals(10, s.stepsPerEpoch());
        for (int e = 0; e < 2; e++) {
            for (int p = 0; p < 4; p++) {
                boolean[] seen = new boolean[1003];
                for (int step = 0; step < 10; step++) {
                    int[] idx = global(s, p, s.indices(e, p, step));
                    assertEquals(25, idx.length);
                    for (int i : idx) {
                        assertEquals(p, i % 4, "sample " + i + " left its partition");
                        assertFalse(seen[i], "sample " + i + " twice in epoch " + e);
                        seen[i] = true;
                    }
                }
            }
        }
        // The permutation is Rng.derive(seed, Rng.SHUFFLE, epoch, p) over the shard: it changes between epochs.
        assertFalse(Arrays.equals(s.indices(0, 2, 0), s.indices(1, 2, 0)));
        assertArrayEquals(s.indices(3, 1, 4), new Sampler(1003, 4, 100, 5).indices(3, 1, 4));
        assertEquals(251, s.shardSize(0));
        assertEquals(250, s.shardSize(3));
    }

    @Test
    void keepLastWithSeveralWorkersCoversEverything() {
        Sampler s = new Sampler(1003, 4, 100, 5, false);
        assertEquals(11, s.stepsPerEpoch());
        int[] all = epoch(s, 2);
        assertEquals(1003, all.length);
        Arrays.sort(all);
        for (int i = 0; i < 1003; i++) assertEquals(i, all[i]);
        assertEquals(1, s.indices(2, 0, 10).length);
        assertEquals(0, s.indices(2, 3, 10).length);
    }

    @Test
    void clearErrors() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Sampler(1000, 3, 100, 1));
        assertTrue(e.getMessage().contains("not divisible") && e.getMessage().contains("3"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Sampler(10, 2, 100, 1));
        Sampler s = new Sampler(100, 2, 10, 1);
        assertThrows(IndexOutOfBoundsException.class, () -> s.indices(0, 2, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> s.indices(0, 0, s.stepsPerEpoch()));
    }

    @Test
    void explicitShardSizesAsImageShardsHave() {
        // Shards of 10, 7 and 9 samples (images that failed validation left out), 3 per worker per step.
        Sampler s = new Sampler(new int[] {10, 7, 9}, 9, 3, true);
        assertEquals(26, s.size());
        assertEquals(2, s.stepsPerEpoch(), "floor(7 / 3) full steps");
        for (int p = 0; p < 3; p++) {
            boolean[] seen = new boolean[s.shardSize(p)];
            for (int step = 0; step < 2; step++) {
                for (int pos : s.indices(1, p, step)) {
                    assertFalse(seen[pos]);
                    seen[pos] = true;
                }
            }
        }
        // The same shard sizes as a strided dataset give the same positions as the strided constructor.
        assertArrayEquals(new Sampler(1003, 4, 100, 5).indices(2, 3, 7),
                new Sampler(Sampler.stridedSizes(1003, 4), 100, 5, true).indices(2, 3, 7));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(new int[] {5, 0}, 2, 1, true));
    }
}
