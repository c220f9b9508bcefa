package org.addernet.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.addernet.data.SyntheticCifar;
import org.addernet.train.RunFiles;
import org.addernet.train.SingleProcess;
import org.apache.spark.TaskContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Local mode's {@code sync=driver} steps several to a Spark job ({@link LocalStepGroup}, {@code steps_per_job}): the
 * raw bits of a job per step and of the single process emulating the same workers (LeNet-5-BN and ResNet-20), fewer
 * jobs, a task killed mid-group retried without losing or repeating a step, a failing task failing the run, and
 * another job started mid-group running rather than waiting for the group's slots.
 */
class LocalStepGroupTest {
    @TempDir
    Path tmp;

    @AfterEach
    void noHook() {
        LocalStepGroup.beforeStep = null;
        assertEquals(0, LocalStepGroup.running(), "no step group outlives its job");
    }

    /** 2 epochs of 10 steps (LeNet, batch 24) or of 4 steps (ResNet-20 on synthetic CIFAR, batch 8). */
    String[] recipe(String model, int workers, String... more) throws Exception {
        List<String> o = new ArrayList<>(Arrays.asList(ShardedSyncTest.lenet(workers, "epochs=2", "sync=driver")));
        if (model.equals("resnet20")) {
            Path cifar = tmp.resolve("cifar");
            if (!cifar.toFile().exists()) SyntheticCifar.write(cifar, 32, 8, 3);
            o.addAll(List.of("model=resnet20", "dataset=cifar10", "data_dir=" + cifar, "batch_size=8", "train_limit=32", "test_limit=8",
                    "eval_batch_size=8", "augment=none"));
        }
        o.addAll(Arrays.asList(more));
        return o.toArray(new String[0]);
    }

    /** Counts the jobs of step groups and all jobs. */
    static final class Jobs extends SparkListener {
        final AtomicInteger groups = new AtomicInteger(), all = new AtomicInteger();

        @Override
        public void onJobStart(SparkListenerJobStart s) {
            all.incrementAndGet();
            if (s.properties() != null && s.properties().getProperty(LocalStepGroup.PROPERTY) != null) groups.incrementAndGet();
        }
    }

    ShardedSyncTest.State spark(String name, String... overrides) throws Exception {
        try (SparkJob job = new SparkJob(SparkJobTest.recipe(overrides), LocalSpark.get(), tmp.resolve(name).toString(), SparkJobTest.QUIET)) {
            job.trainer().run();
            return ShardedSyncTest.State.of(job.trainer());
        }
    }

    @ParameterizedTest
    @CsvSource({"lenet, 2", "lenet, 3", "resnet20, 2"})
    void groupedStepsEqualAJobPerStepAndTheSingleProcess(String model, int workers) throws Exception {
        Jobs jobs = new Jobs();
        LocalSpark.get().sparkContext().addSparkListener(jobs);
        ShardedSyncTest.State grouped;
        try {
            // 4 steps per job: LeNet's epochs of 10 steps run as jobs of 4, 4 and 2 (the cap, then the evaluation ends one).
            grouped = spark("g", recipe(model, workers, "steps_per_job=4"));
            LocalSpark.get().sparkContext().listenerBus().waitUntilEmpty();
        } finally {
            LocalSpark.get().sparkContext().removeSparkListener(jobs);
        }
        int stepsPerEpoch = model.equals("lenet") ? 10 : 4, groupsPerEpoch = (stepsPerEpoch + 3) / 4;
        assertEquals(2 * groupsPerEpoch, jobs.groups.get(), "step jobs of 2 epochs, " + jobs.all.get() + " jobs in all");
        ShardedSyncTest.State perStep = spark("s", recipe(model, workers, "steps_per_job=1"));
        ShardedSyncTest.State single;
        try (SingleProcess run = new SingleProcess(SparkJobTest.recipe(recipe(model, workers)), RunFiles.local(tmp.resolve("1")), SparkJobTest.QUIET)) {
            run.trainer().run();
            single = ShardedSyncTest.State.of(run.trainer());
        }
        assertEquals(2L * stepsPerEpoch, single.optimizerSteps());
        grouped.assertSame(perStep, model + " W=" + workers + ": steps grouped vs a job per step");
        grouped.assertSame(single, model + " W=" + workers + ": steps grouped vs the single process");
    }

    /** Counts the killed attempts of step-group tasks and their retries that succeeded. */
    static final class Retries extends SparkListener {
        final AtomicInteger killed = new AtomicInteger(), retriedOk = new AtomicInteger();

        @Override
        public void onTaskEnd(SparkListenerTaskEnd e) {
            if (e.reason() instanceof org.apache.spark.TaskKilled) killed.incrementAndGet();
            else if (e.taskInfo().attemptNumber() > 0 && e.taskInfo().successful()) retriedOk.incrementAndGet();
        }
    }

    @Test
    void aTaskKilledMidGroupIsRetriedWithoutLosingOrRepeatingAStep() throws Exception {
        String[] keys = recipe("lenet", 3, "steps_per_job=4", "augment=cifar");
        ShardedSyncTest.State straight = spark("a", keys);
        // Partition 1's first attempt in every group is killed as it takes the group's third step, after its two earlier
        // results were applied; it waits until the kill has reached it, so it never hands in that step: its retry must.
        LocalStepGroup.beforeStep = (partition, done) -> {
            TaskContext ctx = TaskContext.get();
            if (partition != 1 || done != 2 || ctx.attemptNumber() != 0) return;
            LocalSpark.get().sparkContext().killTaskAttempt(ctx.taskAttemptId(), true, "fault test: task lost mid-group");
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!ctx.isInterrupted() && System.nanoTime() < deadline) Thread.onSpinWait();
        };
        Retries retries = new Retries();
        LocalSpark.get().sparkContext().addSparkListener(retries);
        ShardedSyncTest.State killed;
        try {
            killed = spark("b", keys);
            LocalSpark.get().sparkContext().listenerBus().waitUntilEmpty();
        } finally {
            LocalSpark.get().sparkContext().removeSparkListener(retries);
            LocalStepGroup.beforeStep = null;
        }
        // Groups of 4, 4, 2 steps per epoch: the third step exists in 2 groups per epoch.
        assertEquals(4, retries.killed.get(), "killed attempts");
        assertEquals(4, retries.retriedOk.get(), "retried attempts that succeeded");
        killed.assertSame(straight, "tasks killed mid-group vs undisturbed");
    }

    @Test
    void aFailingTaskFailsTheRunAndFreesItsSlots() throws Exception {
        LocalStepGroup.beforeStep = (partition, done) -> {
            if (partition == 0 && done == 2) throw new IllegalStateException("fault test: a task fails mid-group");
        };
        try (SparkJob job = new SparkJob(SparkJobTest.recipe(recipe("lenet", 2, "steps_per_job=4")), LocalSpark.get(), tmp.resolve("f").toString(),
                SparkJobTest.QUIET)) {
            Exception e = assertThrows(Exception.class, () -> job.trainer().run());
            assertTrue(String.valueOf(e.getMessage()).contains("fault test"), "Spark's failure names the task's: " + e);
            // Local mode does not retry a failed task (local[4]: 1 attempt): the failing step was not applied, the two before were.
            assertEquals(2, job.trainer().optimizer().steps(), "steps applied before the failure");
        } finally {
            LocalStepGroup.beforeStep = null;
        }
        assertEquals(0, LocalStepGroup.running());
        assertEquals(10L, LocalSpark.get().sparkContext().parallelize(scala.jdk.javaapi.CollectionConverters.asScala(
                List.<Object>of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)).toSeq(), 4, scala.reflect.ClassTag$.MODULE$.Any()).count(),
                "the slots are free again");
    }

    @Test
    void anotherJobStartedMidGroupRunsAndTheBitsStay() throws Exception {
        // W = 4 takes all of local[4]'s slots: another job runs only once the group gives them back. A group of 64 steps
        // would hold them until the epoch's evaluation; the other job must get them within the epoch's 10 steps.
        ShardedSyncTest.State straight = spark("a", recipe("lenet", 4, "steps_per_job=64"));
        AtomicInteger counted = new AtomicInteger(-1), calls = new AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean ranMidEpoch = new java.util.concurrent.atomic.AtomicBoolean();
        Thread other = new Thread(() -> counted.set((int) LocalSpark.get().sparkContext().parallelize(
                scala.jdk.javaapi.CollectionConverters.asScala(List.<Object>of(1, 2, 3, 4, 5, 6)).toSeq(), 4,
                scala.reflect.ClassTag$.MODULE$.Any()).count()));
        LocalStepGroup.beforeStep = (partition, done) -> {
            if (partition != 0) return;
            int n = calls.incrementAndGet();
            if (n == 2) other.start();
            if (n == 7) { // the first epoch's 7th step: the other job must be done by now (waits up to 30 s)
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (counted.get() < 0 && System.nanoTime() < deadline) Thread.onSpinWait();
                ranMidEpoch.set(counted.get() >= 0);
            }
        };
        ShardedSyncTest.State disturbed;
        try {
            disturbed = spark("b", recipe("lenet", 4, "steps_per_job=64"));
        } finally {
            LocalStepGroup.beforeStep = null;
        }
        other.join(60_000);
        assertEquals(6, counted.get(), "the other job ran");
        assertTrue(ranMidEpoch.get(), "the other job ran while the epoch's steps went on");
        disturbed.assertSame(straight, "a job started mid-group");
    }
}
