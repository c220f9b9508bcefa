package org.addernet.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.addernet.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code sync=driver} step's fixed-cost work (issue 8): the direct one-job path (W = 2 at the default depth), the
 * weights carried inside the task for small models, and the {@code step_timing} report. Bits must not depend on how
 * the weights travel or on a retried task; the report's counts are exact invariants of the run.
 */
class SparkStepTimingsTest {
    @TempDir
    Path tmp;

    static List<float[]> run(SparkJob job) throws Exception {
        job.trainer().run();
        return SparkJobTest.state(job.trainer());
    }

    static void assertSameBits(List<float[]> expected, List<float[]> actual, String what) {
        String[] names = {"weights", "BN running statistics", "momentum"};
        for (int k = 0; k < names.length; k++) {
            float[] a = expected.get(k), b = actual.get(k);
            assertEquals(a.length, b.length, names[k]);
            for (int i = 0; i < a.length; i++) {
                if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                    throw new AssertionError(what + ": " + names[k] + "[" + i + "] " + b[i] + " vs " + a[i]);
                }
            }
        }
    }

    @Test
    void weightsByLocalKeyInsideTheTaskAndAsABroadcastGiveTheSameBits() throws Exception {
        List<float[]> local, inline, broadcast;
        try (SparkJob job = new SparkJob(SparkJobTest.recipe("workers=2", "epochs=2"), LocalSpark.get(), tmp.resolve("l").toString(),
                SparkJobTest.QUIET)) {
            // local[N]: the tasks look the weights up in this JVM by key; the entry goes with the step.
            SparkJob.WeightsRef w = job.weightsFor();
            assertTrue(w.isLocal() && !w.isInline(), "in local mode the weights travel as a key");
            assertEquals(job.trainer().model().params().size(), w.value().params().length, "the key finds this step's weights");
            w.destroy();
            assertThrows(IllegalStateException.class, w::value, "a destroyed step's weights are gone");
            local = run(job);
        }
        try (SparkJob job = new SparkJob(SparkJobTest.recipe("workers=2", "epochs=2"), LocalSpark.get(), tmp.resolve("a").toString(),
                SparkJobTest.QUIET)) {
            // As on a cluster: LeNet-5-BN's 0.25 MB of weights ride in the task; a zero limit sends them as a broadcast.
            job.localWeights = false;
            SparkJob.WeightsRef w = job.weightsFor();
            assertTrue(w.isInline() && !w.isLocal(), "LeNet-5-BN's weights travel inside the task");
            w.destroy();
            inline = run(job);
        }
        try (SparkJob job = new SparkJob(SparkJobTest.recipe("workers=2", "epochs=2"), LocalSpark.get(), tmp.resolve("b").toString(),
                SparkJobTest.QUIET)) {
            job.localWeights = false;
            job.inlineWeightsBytes = 0;
            SparkJob.WeightsRef w = job.weightsFor();
            assertFalse(w.isInline() || w.isLocal(), "with a zero limit the weights are broadcast");
            w.destroy();
            broadcast = run(job);
        }
        assertSameBits(inline, local, "weights by local key vs inside the task");
        assertSameBits(inline, broadcast, "weights as a broadcast vs inside the task");
    }

    @Test
    void localResultsAndLineageFreeViewsGiveTheSameBitsAsSerializedResultsOnTheShards() throws Exception {
        // Local mode: the step jobs run on LocalStepRdd views and leave their results in the JVM (LocalResults). As on a
        // cluster instead: the jobs on the cached shard RDD, every result serialized to the driver.
        List<float[]> local, serialized;
        ResultBytes bytes = new ResultBytes();
        LocalSpark.get().sparkContext().addSparkListener(bytes);
        try {
            try (SparkJob job = new SparkJob(SparkJobTest.recipe("workers=2", "epochs=2"), LocalSpark.get(), tmp.resolve("l").toString(),
                    SparkJobTest.QUIET)) {
                local = run(job);
            }
            LocalSpark.get().sparkContext().listenerBus().waitUntilEmpty();
            assertEquals(0, LocalResults.held(), "no local job or result left behind");
            long localTasks = bytes.tasks.get(), localBytes = bytes.bytes.get();
            bytes.reset();
            OrderedTreeReduce.localResults = false;
            try (SparkJob job = new SparkJob(SparkJobTest.recipe("workers=2", "epochs=2"), LocalSpark.get(), tmp.resolve("s").toString(),
                    SparkJobTest.QUIET)) {
                job.jobsOnShards();
                serialized = run(job);
            } finally {
                OrderedTreeReduce.localResults = true;
            }
            LocalSpark.get().sparkContext().listenerBus().waitUntilEmpty();
            int params = 61_942; // LeNet-5-BN
            assertTrue(localTasks > 0 && localBytes / localTasks < 4096, "local results: " + localBytes / Math.max(1, localTasks) + " bytes per task");
            assertTrue(bytes.tasks.get() > 0 && bytes.bytes.get() / bytes.tasks.get() >= 4L * params,
                    "serialized results carry the gradient: " + bytes.bytes.get() / Math.max(1, bytes.tasks.get()) + " bytes per task");
        } finally {
            LocalSpark.get().sparkContext().removeSparkListener(bytes);
        }
        assertSameBits(serialized, local, "local results on step views vs serialized results on the shards");
    }

    @Test
    void aRetriedTaskOnTheDirectPathRecomputesTheSameBits() throws Exception {
        // W = 2 at tree_depth 2 runs one runJob per step (no grouping level); SparkJobTest's retry test covers W = 3.
        List<float[]> straight, retried;
        try (SparkJob job = new SparkJob(SparkJobTest.recipe("workers=2", "steps_per_job=1"), LocalSpark.get(), tmp.resolve("a").toString(), SparkJobTest.QUIET)) {
            straight = run(job);
        }
        SparkJobTest.TaskKiller killer = new SparkJobTest.TaskKiller(1, "step 2/", "step 5/");
        LocalSpark.get().sparkContext().addSparkListener(killer);
        try (SparkJob job = new SparkJob(SparkJobTest.recipe("workers=2", "steps_per_job=1"), LocalSpark.get(), tmp.resolve("b").toString(), SparkJobTest.QUIET)) {
            retried = run(job);
            LocalSpark.get().sparkContext().listenerBus().waitUntilEmpty();
            assertTrue(killer.killed.get() >= 1 && killer.retriedOk.get() >= 1,
                    "no task was killed and retried (killed " + killer.killed + ", retried " + killer.retriedOk + ")");
        } finally {
            LocalSpark.get().sparkContext().removeSparkListener(killer);
        }
        assertSameBits(straight, retried, "after retried tasks");
    }

    private static final Pattern LINE = Pattern.compile("step timing, epoch (\\d+) step (\\d+): (\\{.*\\})");

    /** The JSON of each "step timing" line of {@code log}, in order; the step each was printed at goes into {@code at}. */
    static List<JsonNode> reports(String log, List<Integer> at) throws Exception {
        List<JsonNode> reports = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : log.split("\n")) {
            Matcher m = LINE.matcher(line.trim());
            if (!m.matches()) continue;
            at.add(Integer.parseInt(m.group(2)));
            reports.add(json.readTree(m.group(3)));
        }
        return reports;
    }

    @Test
    void stepTimingPrintsEveryLogEveryStepsWithExactCounts() throws Exception {
        // 400 samples, batch 40: 10 steps; log_every=4 reports after steps 4, 8 and 10 (the epoch's end). A job per step:
        // the listener's task metrics count step jobs (a group's task spans many steps:
        // stepTimingCountsEveryStepOfAGroup below checks the grouped path).
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream log = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        int params;
        try (SparkJob job = new SparkJob(SparkJobTest.recipe("workers=2", "log_every=4", "step_timing=true", "steps_per_job=1"), LocalSpark.get(),
                tmp.resolve("t").toString(), log)) {
            Trainer t = job.trainer();
            params = t.model().params().size();
            t.run();
        }
        List<Integer> at = new ArrayList<>();
        List<JsonNode> reports = reports(bytes.toString(StandardCharsets.UTF_8), at);
        assertEquals(List.of(4, 8, 10), at, "a report after every log_every steps and at the epoch's end");
        int[] steps = {4, 4, 2};
        long tasksSeen = 0;
        for (int i = 0; i < 3; i++) {
            JsonNode r = reports.get(i);
            assertEquals(steps[i], r.get("steps").asInt(), "steps in window " + i);
            // The task phases come back with the tasks' results (an accumulator): exact, one per worker and step.
            assertEquals(2L * steps[i], r.get("phase_tasks").asLong(), "tasks timed inside, window " + i);
            // Spark's listener events arrive asynchronously: never more than the tasks that ran so far.
            tasksSeen += r.get("tasks_seen").asLong();
            assertTrue(tasksSeen <= 2L * (i == 0 ? 4 : i == 1 ? 8 : 10), "tasks seen by the listener so far: " + tasksSeen);
            assertTrue(r.get("phase_compute_ms").asDouble() > 0, "forward/backward takes time");
            assertTrue(r.get("driver_job_ms").asDouble() <= r.get("step_ms").asDouble(), "a lap is part of the step");
            assertTrue(r.get("thread_cpu_ms").isObject(), "CPU per thread group");
            // The driver snapshots the weights (a float copy of every parameter) on the stepping thread each step.
            assertTrue(r.get("thread_alloc_mb").path("main").asDouble() >= 4e-6 * params,
                    "bytes allocated per step by the stepping thread: " + r.get("thread_alloc_mb"));
            assertTrue(r.get("minor_faults").asLong() >= 0, "minor page faults per step");
            if (r.get("tasks_seen").asLong() > 0) {
                // Local mode: the gradient stays in the JVM, the task returns a key (and the phase accumulator's update).
                assertTrue(r.get("task_result_bytes").asLong() < 4L * params, "result bytes " + r.get("task_result_bytes"));
            }
            // Local mode's one clock: every step job's two tasks stamped their entry, exit and handled result.
            assertEquals(steps[i], r.get("local_jobs").asInt(), "local jobs stamped, window " + i);
            assertEquals(2, r.get("local_task_ms_by_partition").size(), "one task time per partition");
            assertTrue(r.get("local_task_ms_by_partition").get("0").asDouble() > 0, "a task takes time");
        }
        assertTrue(tasksSeen >= 1, "the listener saw the step tasks");
    }

    @Test
    void stepTimingCountsEveryStepOfAGroup() throws Exception {
        // The default local path: steps_per_job=4 runs the 10 steps as groups of 4, 4 and 2 steps in three Spark jobs;
        // the in-JVM stamps still count every step of every group, and the task phases every worker's step.
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream log = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        try (SparkJob job = new SparkJob(SparkJobTest.recipe("workers=2", "log_every=4", "step_timing=true", "steps_per_job=4"), LocalSpark.get(),
                tmp.resolve("g").toString(), log)) {
            job.trainer().run();
        }
        List<Integer> at = new ArrayList<>();
        List<JsonNode> reports = reports(bytes.toString(StandardCharsets.UTF_8), at);
        assertEquals(List.of(4, 8, 10), at, "a report after every log_every steps and at the epoch's end");
        int[] steps = {4, 4, 2};
        for (int i = 0; i < 3; i++) {
            JsonNode r = reports.get(i);
            assertEquals(steps[i], r.get("steps").asInt(), "steps in window " + i);
            assertEquals(2L * steps[i], r.get("phase_tasks").asLong(), "tasks timed inside, window " + i);
            assertEquals(steps[i], r.get("local_jobs").asInt(), "grouped steps stamped, window " + i);
            assertEquals(2, r.get("local_task_ms_by_partition").size(), "one task time per partition");
            assertTrue(r.get("phase_compute_ms").asDouble() > 0, "forward/backward takes time");
            assertTrue(r.get("driver_job_ms").asDouble() <= r.get("step_ms").asDouble(), "a lap is part of the step");
        }
        assertEquals(0, LocalStepGroup.running(), "every group ended with the run");
    }
}
