package org.addernet.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code step_timing=true} under {@code sync=sharded} ({@link ShardedTimings}): a report every {@code log_every}
 * steps whose counts are exact invariants of the run (one task per worker and job per step; in {@code local[2]}
 * every block is local, so nothing is fetched remotely), and timing changes no bit of the result.
 */
class ShardedTimingsTest {
    @TempDir
    Path tmp;


    @Test
    void shardedStepTimingReportsEachJobWithExactCountsAndSameBits() throws Exception {
        // 400 samples, batch 40: 10 steps; log_every=4 reports after steps 4, 8 and 10 (the epoch's end).
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream log = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        List<float[]> timed, plain;
        try (SparkJob job = new SparkJob(SparkJobTest.recipe("workers=2", "sync=sharded", "log_every=4", "step_timing=true"), LocalSpark.get(),
                tmp.resolve("t").toString(), log)) {
            timed = SparkStepTimingsTest.run(job);
        }
        try (SparkJob job = new SparkJob(SparkJobTest.recipe("workers=2", "sync=sharded", "log_every=4"), LocalSpark.get(),
                tmp.resolve("p").toString(), SparkJobTest.QUIET)) {
            plain = SparkStepTimingsTest.run(job);
        }
        SparkStepTimingsTest.assertSameBits(plain, timed, "sharded with step_timing vs without");

        List<Integer> at = new ArrayList<>();
        List<JsonNode> reports = SparkStepTimingsTest.reports(bytes.toString(StandardCharsets.UTF_8), at);
        assertEquals(List.of(4, 8, 10), at, "a report after every log_every steps and at the epoch's end");
        int[] steps = {4, 4, 2};
        for (int i = 0; i < 3; i++) {
            JsonNode r = reports.get(i);
            assertEquals(steps[i], r.get("steps").asInt(), "steps in window " + i);
            for (String j : List.of("a", "b")) {
                // The phases come back with the tasks' results (an accumulator): exact, one task per slice and job.
                assertEquals(2L * steps[i], r.get(j + "_phase_tasks").asLong(), j + " tasks timed inside, window " + i);
                assertEquals(0.0, r.get(j + "_remote_mb").asDouble(), j + ": local[2] has one BlockManager, nothing is fetched remotely");
                assertEquals(0.0, r.get(j + "_disk_mb").asDouble(), j + ": nothing spilled");
                long seen = r.get(j + "_tasks_seen").asLong();
                assertTrue(seen <= 2L * steps[i] + 2, j + " tasks seen by the listener: " + seen); // + the last window's stragglers
                assertTrue(r.get(j + "_job_ms").asDouble() <= r.get("step_ms").asDouble(), j + "'s job is part of the step");
            }
            assertTrue(r.get("a_compute_ms").asDouble() > 0, "forward/backward takes time");
            assertTrue(r.get("b_encode_ms").asDouble() > 0, "job B encodes the new weights and momentum");
            assertTrue(r.get("b_gather_ms").asDouble() > 0, "job B's tasks read each other's norms");
            assertTrue(r.get("c_job_ms") == null, "one job fewer: no job C");
        }
    }
}
