package org.addernet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** A worker's strided shard yields exactly the batches the whole dataset yields for the same sample ids. */
class ShardTest {
    @Test
    void shardBatchesEqualWholeDatasetBatches() {
        ImageDataset all = IdxReader.readMnist(Fixtures.fashionSmall(), true).subset(0, 103);
        float[] mean = {0.2860f}, std = {0.3530f};
        int workers = 4;
        BatchAssembler whole = new BatchAssembler(all, mean, std, true, 9);
        Sampler sampler = new Sampler(all.count(), workers, 8, 9);
        for (int p = 0; p < workers; p++) {
            ImageDataset shard = all.strided(p, workers);
            assertEquals(sampler.shardSize(p), shard.count());
            BatchAssembler local = new BatchAssembler(shard, mean, std, true, 9);
            int[] positions = sampler.indices(3, p, 1);
            int[] global = new int[positions.length];
            for (int k = 0; k < global.length; k++) {
                global[k] = p + positions[k] * workers;
                assertEquals(global[k], shard.id(positions[k]));
            }
            float[] xa = new float[global.length * 784], xb = new float[global.length * 784];
            int[] ya = new int[global.length], yb = new int[global.length];
            whole.fill(3, global, xa, ya);
            local.fill(3, positions, xb, yb);
            assertArrayEquals(xa, xb, "partition " + p);
            assertArrayEquals(ya, yb, "partition " + p);
        }
        // A subset of a shard keeps ids too.
        ImageDataset s = all.strided(1, 4).subset(2, 5);
        assertEquals(1 + 2 * 4, s.id(0));
        assertEquals(1 + 4 * 4, s.id(2));
    }
}
