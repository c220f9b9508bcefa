package org.addernet.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import org.addernet.data.SyntheticCifar;
import org.addernet.engine.Params;
import org.addernet.train.RunFiles;
import org.addernet.train.SingleProcess;
import org.addernet.train.Trainer;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code sync=sharded} (issue 8) in local mode: the same raw bits as {@code sync=driver} and as the single process
 * emulating the same workers (weights, momentum, BN buffers), with LeNet-5-BN layers cut across slices; resume; a
 * refused non-finite step; recovery from a lost state block; the driver's received bytes per step bounded at
 * ResNet-50 size.
 */
class ShardedSyncTest {
    @TempDir
    Path tmp;

    /** Everything a run ends with, as raw bits. */
    record State(int[] weights, int[] buffers, int[] momentum, long optimizerSteps, long numBatchesTracked) {
        static State of(Trainer t) {
            Params p = t.model().params();
            return new State(bits(p.data), bits(p.buffers), bits(t.optimizer().momentumBuffer()), t.optimizer().steps(),
                    t.model().numBatchesTracked());
        }

        void assertSame(State o, String what) {
            assertArrayEquals(o.weights, weights, what + ": weights");
            assertArrayEquals(o.buffers, buffers, what + ": BN buffers");
            assertArrayEquals(o.momentum, momentum, what + ": momentum");
            assertEquals(o.optimizerSteps, optimizerSteps, what + ": optimizer steps");
            assertEquals(o.numBatchesTracked, numBatchesTracked, what + ": num_batches_tracked");
        }
    }

    static int[] bits(float[] a) {
        int[] r = new int[a.length];
        for (int i = 0; i < a.length; i++) r[i] = Float.floatToRawIntBits(a[i]);
        return r;
    }

    /** LeNet-5-BN on the fixture: 10 steps of batch 24 (divisible by W = 1..4), one epoch. */
    static String[] lenet(int workers, String... more) {
        String[] base = {"batch_size=24", "train_limit=240", "test_limit=60", "workers=" + workers, "emulate_workers=" + workers};
        String[] r = Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, r, base.length, more.length);
        return r;
    }

    State spark(String name, String... overrides) throws Exception {
        try (SparkJob job = new SparkJob(SparkJobTest.recipe(overrides), LocalSpark.get(), tmp.resolve(name).toString(), SparkJobTest.QUIET)) {
            job.trainer().run();
            return State.of(job.trainer());
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4})
    void shardedEqualsDriverEqualsSingleProcessBitForBit(int workers) throws Exception {
        State sharded;
        try (SparkJob job = new SparkJob(SparkJobTest.recipe(lenet(workers, "sync=sharded")), LocalSpark.get(), tmp.resolve("s").toString(),
                SparkJobTest.QUIET)) {
            ShardedSteps s = job.sharded();
            assertNotNull(s, "sync=sharded runs the sharded step");
            if (workers > 1) {
                // The test is about layers cut across slices: LeNet's fc1 (48,000 floats) always is for W >= 2.
                ShardedSteps.Layout l = s.layout();
                boolean cut = false;
                for (int i = 0; i < l.adderOffset().length; i++) cut |= l.params().cuts(l.adderOffset()[i], l.adderSize()[i]);
                assertTrue(cut, "some adder layer spans two slices");
            }
            job.trainer().run();
            sharded = State.of(job.trainer());
        }
        State driver;
        try (SparkJob job = new SparkJob(SparkJobTest.recipe(lenet(workers, "sync=driver")), LocalSpark.get(), tmp.resolve("d").toString(),
                SparkJobTest.QUIET)) {
            assertNull(job.sharded());
            job.trainer().run();
            driver = State.of(job.trainer());
        }
        State single;
        try (SingleProcess run = new SingleProcess(SparkJobTest.recipe(lenet(workers)), RunFiles.local(tmp.resolve("1")), SparkJobTest.QUIET)) {
            run.trainer().run();
            single = State.of(run.trainer());
        }
        assertEquals(10, single.optimizerSteps());
        sharded.assertSame(driver, "sharded vs driver, W=" + workers);
        sharded.assertSame(single, "sharded vs single process, W=" + workers);
    }

    /**
     * {@code wire=bf16}: the sharded run (gradient and weight slices as bfloat16 blocks) equals the single process
     * emulating the same workers with the same roundings, and {@code sync=driver} with them, bit for bit; the
     * roundings did happen (the fp32 run ends elsewhere) and only on the wire (the master weights and momentum the
     * owners keep are not bf16 values).
     */
    @ParameterizedTest
    @ValueSource(ints = {2, 3})
    void bf16WireShardedEqualsDriverEqualsSingleProcessBitForBit(int workers) throws Exception {
        State sharded;
        try (SparkJob job = new SparkJob(SparkJobTest.recipe(lenet(workers, "sync=sharded", "wire=bf16")), LocalSpark.get(),
                tmp.resolve("s").toString(), SparkJobTest.QUIET)) {
            ShardedSteps.Layout l = job.sharded().layout();
            assertTrue(l.bf16(), "the layout carries wire=bf16");
            boolean cut = false;
            for (int i = 0; i < l.adderOffset().length; i++) cut |= l.params().cuts(l.adderOffset()[i], l.adderSize()[i]);
            assertTrue(cut, "some adder layer spans two slices");
            job.trainer().run();
            sharded = State.of(job.trainer());
        }
        State driver = spark("d", lenet(workers, "sync=driver", "wire=bf16"));
        State single, fp32;
        try (SingleProcess run = new SingleProcess(SparkJobTest.recipe(lenet(workers, "wire=bf16")), RunFiles.local(tmp.resolve("1")),
                SparkJobTest.QUIET)) {
            run.trainer().run();
            single = State.of(run.trainer());
        }
        try (SingleProcess run = new SingleProcess(SparkJobTest.recipe(lenet(workers)), RunFiles.local(tmp.resolve("f")), SparkJobTest.QUIET)) {
            run.trainer().run();
            fp32 = State.of(run.trainer());
        }
        sharded.assertSame(single, "wire=bf16, sharded vs single process, W=" + workers);
        sharded.assertSame(driver, "wire=bf16, sharded vs driver, W=" + workers);
        int differ = 0;
        for (int i = 0; i < fp32.weights().length; i++) if (fp32.weights()[i] != single.weights()[i]) differ++;
        assertTrue(differ > fp32.weights().length / 2, "bf16 changes most weights' bits: " + differ + " of " + fp32.weights().length);
        assertTrue(notBf16(single.weights()) > single.weights().length / 2, "master weights stay fp32: " + notBf16(single.weights()));
        assertTrue(notBf16(single.momentum()) > single.momentum().length / 2, "momentum stays fp32: " + notBf16(single.momentum()));
    }

    /** Job B on an executor that kept nothing (master weights and momentum read from their blocks) gives the same bits. */
    @ParameterizedTest
    @ValueSource(strings = {"fp32", "bf16"})
    void withoutKeptArraysTheBlocksGiveTheSameBits(String wire) throws Exception {
        State kept = spark("k", lenet(3, "sync=sharded", "wire=" + wire));
        StateBlocks.keeping = false;
        try {
            spark("n", lenet(3, "sync=sharded", "wire=" + wire)).assertSame(kept, "wire=" + wire + ", blocks only vs kept arrays");
        } finally {
            StateBlocks.keeping = true;
        }
    }

    /**
     * Weight and gradient slices in blocks of 1,000 floats (a ResNet-50 slice's ~12 blocks, at LeNet size): job A's
     * forward starts while the later weight blocks are still being read, each layer waiting for its own, and its
     * backward puts each gradient block as soon as the layers it covers are done, with layers cut across blocks and
     * slices; job B sums the blocks in place. The run ends with the bits of the single process emulating the same
     * workers, and every gradient block went while its backward still ran.
     */
    @ParameterizedTest
    @ValueSource(strings = {"fp32", "bf16"})
    void weightsAndGradientsInBlocksGiveTheSameBits(String wire) throws Exception {
        State single;
        try (SingleProcess run = new SingleProcess(SparkJobTest.recipe(lenet(3, "wire=" + wire)), RunFiles.local(tmp.resolve("1" + wire)),
                SparkJobTest.QUIET)) {
            run.trainer().run();
            single = State.of(run.trainer());
        }
        int chunk = ShardedSteps.CHUNK;
        ShardedSteps.CHUNK = 1000;
        State blocks;
        long early = ShardedSteps.GradientBlocks.EARLY.get();
        int perTask = 0;
        try (SparkJob job = new SparkJob(SparkJobTest.recipe(lenet(3, "sync=sharded", "wire=" + wire)), LocalSpark.get(),
                tmp.resolve("c" + wire).toString(), SparkJobTest.QUIET)) {
            ShardedSteps.Layout l = job.sharded().layout();
            assertEquals(1000, l.chunk());
            for (int q = 0; q < 3; q++) {
                assertTrue(l.chunks(q) > 5, "slice " + q + " in " + l.chunks(q) + " blocks");
                perTask += l.chunks(q);
            }
            job.trainer().run();
            blocks = State.of(job.trainer());
        } finally {
            ShardedSteps.CHUNK = chunk;
        }
        blocks.assertSame(single, "wire=" + wire + ", weights and gradients in blocks of 1,000 vs single process");
        // 10 steps, 3 tasks: every layer reports its gradient, so no block waits for the backward's end.
        assertEquals(10L * 3 * perTask, ShardedSteps.GradientBlocks.EARLY.get() - early, "gradient blocks put during the backward");
    }

    /**
     * W = 2 with one operand remote (as across two executor JVMs): job B adds the remote slice to the local one piece
     * by piece as it arrives (in one block per slice, or in blocks of 1,000 floats), and ends with the bits of the
     * single process emulating the same workers.
     */
    @ParameterizedTest
    @CsvSource({"fp32,0", "bf16,0", "fp32,1000", "bf16,1000"})
    void sumWhileFetchingGivesTheBitsOfTheSingleProcess(String wire, int blockFloats) throws Exception {
        State single;
        try (SingleProcess run = new SingleProcess(SparkJobTest.recipe(lenet(2, "wire=" + wire)), RunFiles.local(tmp.resolve("1" + wire)),
                SparkJobTest.QUIET)) {
            run.trainer().run();
            single = State.of(run.trainer());
        }
        long before = ShardedSteps.ReduceUpdateTask.FUSED.get();
        int chunk = ShardedSteps.CHUNK;
        if (blockFloats > 0) ShardedSteps.CHUNK = blockFloats;
        ShardedSteps.ReduceUpdateTask.EMULATE_EXECUTORS = true;
        State fused;
        try {
            fused = spark("f" + wire, lenet(2, "sync=sharded", "wire=" + wire));
        } finally {
            ShardedSteps.ReduceUpdateTask.EMULATE_EXECUTORS = false;
            ShardedSteps.CHUNK = chunk;
        }
        // 10 steps, 2 slices: every job B task took the fused path.
        assertEquals(20, ShardedSteps.ReduceUpdateTask.FUSED.get() - before, "job B tasks that summed while fetching");
        fused.assertSame(single, "wire=" + wire + ", blocks of " + (blockFloats > 0 ? blockFloats : "CHUNK") + ", sum while fetching vs single process");
    }

    @Test
    void dynamicAllocationIsRefusedWithOneClearLineOnAClusterOnly() {
        org.apache.spark.SparkConf on = new org.apache.spark.SparkConf(false).set("spark.dynamicAllocation.enabled", "true");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ShardedSteps.requireNoDynamicAllocation(on, false));
        assertTrue(e.getMessage().contains("spark.dynamicAllocation.enabled") && !e.getMessage().contains("\n"), e.getMessage());
        ShardedSteps.requireNoDynamicAllocation(on, true); // local mode: Spark ignores it, so do we
        ShardedSteps.requireNoDynamicAllocation(new org.apache.spark.SparkConf(false), false);
    }

    /** How many of these float bit patterns are not bfloat16 values (low 16 bits set). */
    static int notBf16(int[] bits) {
        int n = 0;
        for (int b : bits) if ((b & 0xFFFF) != 0) n++;
        return n;
    }

    @Test
    void perWorkerScalingToo() throws Exception {
        State sharded = spark("s", lenet(2, "sync=sharded", "adaptive_scaling=per_worker"));
        State driver = spark("d", lenet(2, "sync=driver", "adaptive_scaling=per_worker"));
        sharded.assertSame(driver, "adaptive_scaling=per_worker, sharded vs driver");
    }

    @Test
    void moreWorkersThanTaskSlotsIsAnErrorNotWaves() throws Exception {
        // LocalSpark is local[4]: 5 workers would run every step in two waves.
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> spark("w", "batch_size=25", "train_limit=250",
                "workers=5", "sync=sharded"));
        assertTrue(e.getMessage().contains("workers=5") && e.getMessage().contains("waves"), e.getMessage());
    }

    @Test
    void autoShardsOnlyLargeModels() throws Exception {
        try (SparkJob job = new SparkJob(SparkJobTest.recipe(lenet(2)), LocalSpark.get(), tmp.resolve("a").toString(), SparkJobTest.QUIET)) {
            assertNull(job.sharded(), "LeNet (62K parameters) syncs through the driver under sync=auto");
        }
        assertThrows(IllegalArgumentException.class, () -> new SparkJob(SparkJobTest.recipe(lenet(2, "sync=ring")), LocalSpark.get(),
                tmp.resolve("b").toString(), SparkJobTest.QUIET));
    }

    @Test
    void resumedShardedRunEqualsTheUninterruptedOne() throws Exception {
        State straight = spark("straight", lenet(2, "sync=sharded", "epochs=2"));
        String b = tmp.resolve("b").toString();
        try (SparkJob job = new SparkJob(SparkJobTest.recipe(lenet(2, "sync=sharded", "epochs=2", "max_steps=13")), LocalSpark.get(), b,
                SparkJobTest.QUIET)) {
            job.trainer().run();
        }
        try (SparkJob job = new SparkJob(SparkJobTest.recipe(lenet(2, "sync=sharded", "epochs=2")), LocalSpark.get(), b, SparkJobTest.QUIET)) {
            job.trainer().resume();
            job.trainer().run();
            State.of(job.trainer()).assertSame(straight, "resumed vs uninterrupted");
        }
    }

    @Test
    void aNonFiniteUpdateIsRefusedAndTheStateStays() throws Exception {
        // Epoch 2's rate is 0.1 * 1e40, infinite as a float: the first update of epoch 2 would poison every weight.
        String[] poison = lenet(2, "sync=sharded", "epochs=2", "lr_schedule=step", "lr_milestones=1", "lr_gamma=1e40");
        State afterEpoch1 = spark("ref", lenet(2, "sync=driver", "epochs=2", "lr_schedule=step", "lr_milestones=1", "lr_gamma=1e40",
                "max_steps=10"));
        try (SparkJob job = new SparkJob(SparkJobTest.recipe(poison), LocalSpark.get(), tmp.resolve("p").toString(), SparkJobTest.QUIET)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> job.trainer().run());
            assertTrue(e.getMessage().contains("non-finite") && e.getMessage().contains("epoch 2 step 1"), e.getMessage());
            // The driver's copy is stale by design: wipe it, then gather what the owners kept.
            Params p = job.trainer().model().params();
            Arrays.fill(p.data, 0f);
            Arrays.fill(p.buffers, 0f);
            Arrays.fill(job.trainer().optimizer().momentumBuffer(), 0f);
            job.sharded().forgetGathered();
            job.sharded().gather();
            State.of(job.trainer()).assertSame(afterEpoch1, "state after the refused step");
        }
    }

    /**
     * A block of the live weights vanishes as with a lost executor, after step 6 (a checkpoint was written after
     * step 4: the replay starts there) or right after step 4 (the checkpoint's gather finds it missing: the replay
     * starts from the beginning). Either way the run ends with the undisturbed bits; with {@code wire=bf16} too (the
     * owners' kept arrays are lost with the block).
     */
    @ParameterizedTest
    @CsvSource({"6,fp32", "4,fp32", "6,bf16"})
    void aLostStateBlockIsRecoveredFromTheLastCheckpointWithTheSameBits(int dropAfter, String wire) throws Exception {
        State undisturbed = spark("u", lenet(2, "sync=sharded", "checkpoint_every_steps=4", "wire=" + wire));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (PrintStream log = new PrintStream(out, true, StandardCharsets.UTF_8);
             SparkJob job = new SparkJob(SparkJobTest.recipe(lenet(2, "sync=sharded", "checkpoint_every_steps=4", "wire=" + wire)), LocalSpark.get(),
                     tmp.resolve("l").toString(), log)) {
            ShardedSteps s = job.sharded();
            AtomicLong commits = new AtomicLong(); // of version dropAfter
            s.afterCommit = v -> {
                if (v == dropAfter && commits.getAndIncrement() == 0) s.dropLiveSlice(1);
            };
            job.trainer().run();
            assertEquals(2, commits.get(), "step " + dropAfter + " was committed twice: before the loss and in the replay");
            State.of(job.trainer()).assertSame(undisturbed, "recovered vs undisturbed");
        }
        String log = out.toString(StandardCharsets.UTF_8);
        String lost = dropAfter == 6 ? "sharded state lost at epoch 1 step 7" : "sharded state lost at gather";
        String replay = dropAfter == 6 ? "replaying from epoch 1 step 4" : "replaying from epoch 1 step 0";
        assertTrue(log.contains(lost) && log.contains(replay), log);
    }

    /** Bytes the driver received per step over a run of {@code steps} steps. */
    double driverBytesPerStep(String name, int steps, String... overrides) throws Exception {
        SparkSession spark = LocalSpark.get();
        ResultBytes l = new ResultBytes();
        spark.sparkContext().addSparkListener(l);
        try {
            spark(name, overrides);
            spark.sparkContext().listenerBus().waitUntilEmpty(60_000);
        } finally {
            spark.sparkContext().removeSparkListener(l);
        }
        assertTrue(l.tasks.get() > 0, "the listener saw the step tasks");
        return (double) l.bytes.get() / steps;
    }

    @Test
    void theDriverReceivesAFewKilobytesPerStepAtResNet50Size() throws Exception {
        // The listener measures what it should: under sync=driver every LeNet task returns its whole gradient.
        int lenetParams = 60_000; // LeNet-5-BN has 61,942
        double driver;
        // Local mode keeps sync=driver's results in the JVM (and a step group's tasks hand them over in it too):
        // serialized as on a cluster, one job per step.
        OrderedTreeReduce.localResults = false;
        try {
            driver = driverBytesPerStep("ld", 10, lenet(2, "sync=driver", "checkpoint=false", "steps_per_job=1"));
        } finally {
            OrderedTreeReduce.localResults = true;
        }
        assertTrue(driver >= 2.0 * 4 * lenetParams, "sync=driver: " + driver + " bytes per step");
        double lenet = driverBytesPerStep("ls", 10, lenet(2, "sync=sharded", "checkpoint=false"));
        assertTrue(lenet <= 64 * 1024, "sync=sharded LeNet: " + lenet + " bytes per step");

        Path cifar = tmp.resolve("cifar");
        SyntheticCifar.write(cifar, 10, 4, 3);
        double r50 = driverBytesPerStep("r50", 2, "model=resnet50", "dataset=cifar10", "data_dir=" + cifar, "batch_size=4", "train_limit=8",
                "test_limit=4", "eval_batch_size=4", "workers=2", "sync=sharded", "checkpoint=false", "augment=none");
        System.out.printf("driver bytes received per step: sync=driver LeNet %.0f, sync=sharded LeNet %.0f, sync=sharded ResNet-50 %.0f%n",
                driver, lenet, r50);
        assertTrue(r50 <= 64 * 1024, "sync=sharded ResNet-50: " + r50 + " bytes per step");
    }
}
