package org.addernet.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.addernet.train.RunFiles;
import org.addernet.train.SingleProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code micro_batch} reaches the Spark tasks: a 2-worker Spark run with micro-batches equals the single-process
 * trainer emulating the same workers with the same micro-batches bit for bit, and differs from the run without
 * them (BN statistics per micro-batch), so the equality is not the trivial one.
 */
class MicroBatchSparkTest {
    @TempDir
    Path tmp;

    float[][] single(String... overrides) throws Exception {
        try (SingleProcess run = new SingleProcess(SparkJobTest.recipe(overrides), RunFiles.local(tmp.resolve("single" + overrides.length)),
                SparkJobTest.QUIET)) {
            run.trainer().run();
            return new float[][] {run.trainer().model().params().data.clone(), run.trainer().model().params().buffers.clone()};
        }
    }

    @Test
    void sparkTasksRunTheSameMicroBatches() throws Exception {
        float[] spark, sparkBuffers;
        // Batch 40 over 2 workers: shares of 20, micro-batches of 7, 7 and 6.
        try (SparkJob job = new SparkJob(SparkJobTest.recipe("workers=2", "micro_batch=7"), LocalSpark.get(), tmp.resolve("spark").toString(),
                SparkJobTest.QUIET)) {
            assertEquals(2, job.workers());
            job.trainer().run();
            spark = job.trainer().model().params().data.clone();
            sparkBuffers = job.trainer().model().params().buffers.clone();
        }
        float[][] micro = single("emulate_workers=2", "micro_batch=7");
        float[][] whole = single("emulate_workers=2");
        assertArrayEquals(micro[0], spark, "weights");
        assertArrayEquals(micro[1], sparkBuffers, "BN running statistics");
        double err = SparkJobTest.relErr(whole[0], micro[0]);
        System.out.printf("2 workers, 1 epoch: micro_batch 7 vs whole shares, weights rel diff %.2e%n", err);
        assertTrue(err > 1e-4, "micro-batches should change the run (BN statistics per micro-batch): " + err);
    }

    /**
     * The same under {@code sync=sharded}, with gradient blocks of 1,000 floats: only the last micro-batch's backward
     * may put a block before the share is done (the earlier ones leave gradients that later ones add to).
     */
    @Test
    void shardedTasksPutTheGradientOnlyAfterTheLastMicroBatch() throws Exception {
        int chunk = ShardedSteps.CHUNK;
        ShardedSteps.CHUNK = 1000;
        float[] spark;
        try (SparkJob job = new SparkJob(SparkJobTest.recipe("workers=2", "micro_batch=7", "sync=sharded"), LocalSpark.get(),
                tmp.resolve("sharded").toString(), SparkJobTest.QUIET)) {
            job.trainer().run();
            spark = job.trainer().model().params().data.clone();
        } finally {
            ShardedSteps.CHUNK = chunk;
        }
        assertArrayEquals(single("emulate_workers=2", "micro_batch=7")[0], spark, "weights");
    }
}
