package org.addernet.spark;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobEnd;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.scheduler.TaskInfo;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Where the milliseconds of a {@code sync=sharded} step go ({@code step_timing=true}, {@code bench-spark
 * --breakdown}): the {@link StepTimings} of the sharded step, per job ({@link Job}: A compute, B reduce and update).
 * <ul>
 *   <li><b>Driver</b>: each job's wall time from submission to its last result (A with the driver's merge of the
 *   counts, B with the scales).</li>
 *   <li><b>Spark's task metrics</b> per job (this listener; jobs marked with the local property {@link #PROPERTY} =
 *   the job's letter): task duration as the driver saw it, deserialization, run, result serialization, scheduler
 *   delay (as Spark's UI computes it), GC; per job the submission to the first launch, the spread of the task ends
 *   (waiting for the slowest task), the last task end to the job's end.</li>
 *   <li><b>Task phases</b> measured inside the tasks ({@link #counters}, an accumulator): the phases of each job on
 *   the task's thread (A: start fetching the weight slices / look up the samples while they arrive / compute, with
 *   the waits for weights still arriving / put the gradient blocks the backward has not already put on its lane
 *   (the part of the puts it did not hide) and the weighted BN buffers; B: fetch the operands / sum / gather the
 *   norms / update / put), and what {@link StateBlocks}
 *   counted for the task on every thread (its fetch threads too): bytes and blocks fetched from other executors,
 *   the summed wait of those fetches (request to bytes in hand; parallel fetches overlap), decoding (bytes into
 *   floats, bf16 or fp32), encoding (floats into bytes), storing ({@code BlockManager.putBytes}), and bytes of blocks
 *   the BlockManager put on disk (its memory store was full: {@code MEMORY_AND_DISK_SER}), and the stall: how long
 *   job A's forward waited for weight blocks still on the way (the part of the fetch it did not hide; counted
 *   as overhead, not compute).</li>
 * </ul>
 * Per-task means; Spark records most task metrics in whole milliseconds. Spark's events reach the listener
 * asynchronously: a window may miss the last step's tasks (the counts say what was seen).
 */
final class ShardedTimings extends SparkListener {
    /** Local property marking the sharded step's jobs; its value is the job's letter (A, B). */
    static final String PROPERTY = "addernet.timed.sharded";

    enum Job { A, B }

    /** The task-thread phases of each job, by job (at most {@link #MAX_PHASES}). */
    static final String[][] PHASES = {{"fetch", "sample", "compute", "put"}, {"fetch", "sum", "gather", "update", "put"}};
    static final int MAX_PHASES = 5;

    /** Per-task counters of {@link StateBlocks} (slots after the phases). */
    enum Count { REMOTE_BYTES, REMOTE_BLOCKS, REMOTE_WAIT_NANOS, DECODE_NANOS, ENCODE_NANOS, STORE_NANOS, DISK_BYTES, STALL_NANOS }

    /** Slots per job in the accumulator: task count, the phases (wall ns), the counts. */
    static final int PER_JOB = 1 + MAX_PHASES + Count.values().length;
    static final int SLOTS = Job.values().length * PER_JOB;

    /** The tasks' phases and counts, {@link #SLOTS} longs (layout: per job, {@link #PER_JOB} slots). */
    final LongSums counters = new LongSums(SLOTS);
    // Driver side (the stepping thread).
    private final double[] jobWall = new double[Job.values().length];
    private double stepWall;
    private long steps;
    // Listener side (synchronized).
    private final Map<Integer, Integer> stageJob = new HashMap<>();
    private final Map<Integer, long[]> jobs = new HashMap<>(); // job id -> {kind, start, firstLaunch, firstEnd, lastEnd}
    /** Per kind: tasks, duration, deser, run, resultSer, schedulerDelay, gc, jobs, toFirstLaunch, endSpread, lastEndToJobEnd. */
    private final long[][] spark = new long[Job.values().length][11];

    ShardedTimings(JavaSparkContext jsc) {
        jsc.sc().register(counters);
        jsc.sc().addSparkListener(this);
    }

    void detach(JavaSparkContext jsc) {
        jsc.sc().removeSparkListener(this);
    }

    /** One step done: its jobs' wall seconds (A, B) and the whole step's. */
    synchronized void step(double[] jobSeconds, double stepSeconds) {
        for (int j = 0; j < jobWall.length; j++) jobWall[j] += jobSeconds[j];
        stepWall += stepSeconds;
        steps++;
    }

    @Override
    public synchronized void onJobStart(SparkListenerJobStart start) {
        String kind = start.properties() == null ? null : start.properties().getProperty(PROPERTY);
        if (kind == null) return;
        for (StageInfo s : CollectionConverters.asJava(start.stageInfos())) stageJob.put(s.stageId(), start.jobId());
        jobs.put(start.jobId(), new long[] {Job.valueOf(kind).ordinal(), start.time(), Long.MAX_VALUE, Long.MAX_VALUE, 0});
    }

    @Override
    public synchronized void onTaskEnd(SparkListenerTaskEnd end) {
        Integer job = stageJob.get(end.stageId());
        TaskMetrics m = end.taskMetrics();
        if (job == null || m == null || !end.taskInfo().successful()) return;
        long[] j = jobs.get(job);
        if (j == null) return;
        TaskInfo t = end.taskInfo();
        long[] s = spark[(int) j[0]];
        long getting = t.gettingResult() ? t.finishTime() - t.gettingResultTime() : 0;
        s[0]++;
        s[1] += t.duration();
        s[2] += m.executorDeserializeTime();
        s[3] += m.executorRunTime();
        s[4] += m.resultSerializationTime();
        s[5] += Math.max(0, t.duration() - m.executorRunTime() - m.executorDeserializeTime() - m.resultSerializationTime() - getting);
        s[6] += m.jvmGCTime();
        j[2] = Math.min(j[2], t.launchTime());
        j[3] = Math.min(j[3], t.finishTime());
        j[4] = Math.max(j[4], t.finishTime());
    }

    @Override
    public synchronized void onJobEnd(SparkListenerJobEnd end) {
        long[] j = jobs.remove(end.jobId());
        stageJob.values().removeIf(v -> v == end.jobId());
        if (j == null || j[4] == 0) return;
        long[] s = spark[(int) j[0]];
        s[7]++;
        s[8] += j[2] - j[1];
        s[9] += j[4] - j[3];
        s[10] += end.time() - j[4];
    }

    /** The means since the last report (then resets), one flat JSON object, times in ms, bytes in MB. */
    synchronized String report() {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("steps", steps);
        o.put("step_ms", steps == 0 ? Double.NaN : stepWall * 1e3 / steps);
        long[] c = counters.value();
        for (Job job : Job.values()) {
            int k = job.ordinal();
            String p = job.name().toLowerCase(Locale.ROOT) + "_";
            long[] s = spark[k];
            o.put(p + "job_ms", steps == 0 ? Double.NaN : jobWall[k] * 1e3 / steps);
            o.put(p + "jobs_seen", s[7]);
            o.put(p + "submit_to_first_launch_ms", StepTimings.per(s[8], s[7]));
            o.put(p + "task_end_spread_ms", StepTimings.per(s[9], s[7]));
            o.put(p + "last_task_end_to_job_end_ms", StepTimings.per(s[10], s[7]));
            o.put(p + "tasks_seen", s[0]);
            o.put(p + "task_duration_ms", StepTimings.per(s[1], s[0]));
            o.put(p + "task_deserialize_ms", StepTimings.per(s[2], s[0]));
            o.put(p + "task_run_ms", StepTimings.per(s[3], s[0]));
            o.put(p + "task_result_serialize_ms", StepTimings.per(s[4], s[0]));
            o.put(p + "task_scheduler_delay_ms", StepTimings.per(s[5], s[0]));
            o.put(p + "task_gc_ms", StepTimings.per(s[6], s[0]));
            int base = k * PER_JOB;
            long n = c[base];
            o.put(p + "phase_tasks", n);
            for (int ph = 0; ph < PHASES[k].length; ph++) o.put(p + PHASES[k][ph] + "_ms", StepTimings.ms(c[base + 1 + ph], n));
            for (Count x : Count.values()) {
                long v = c[base + 1 + MAX_PHASES + x.ordinal()];
                String name = x.name().toLowerCase(Locale.ROOT);
                if (name.endsWith("_nanos")) o.put(p + name.replace("_nanos", "_ms"), StepTimings.ms(v, n));
                else if (name.endsWith("_bytes")) o.put(p + name.replace("_bytes", "_mb"), n == 0 ? Double.NaN : v / 1e6 / n);
                else o.put(p + name, n == 0 ? Double.NaN : (double) v / n);
            }
        }
        reset();
        return StepTimings.json(o);
    }

    private void reset() {
        java.util.Arrays.fill(jobWall, 0);
        stepWall = 0;
        steps = 0;
        for (long[] s : spark) java.util.Arrays.fill(s, 0);
        counters.reset();
    }


    /**
     * One task's clock and counts. {@link StateBlocks} adds its counts to the meter of the task's thread
     * ({@link StateBlocks#meter}), from its fetch threads too; the task marks its phases and adds the whole to the
     * accumulator at its end (a null accumulator: not timed, the meter still counts, cheaply).
     */
    static final class Meter {
        final AtomicLongArray counts = new AtomicLongArray(Count.values().length);
        private final long[] phase = new long[MAX_PHASES];
        private long t = System.nanoTime();

        void add(Count c, long v) {
            counts.addAndGet(c.ordinal(), v);
        }

        /** Ends phase {@code ph} (an index into the job's {@link #PHASES}) of the task: the wall time since the last mark. */
        void mark(int ph) {
            long t1 = System.nanoTime();
            phase[ph] += t1 - t;
            t = t1;
        }

        void addTo(LongSums into, Job job) {
            if (into == null) return;
            long[] v = new long[SLOTS];
            int base = job.ordinal() * PER_JOB;
            v[base] = 1;
            for (int i = 0; i < MAX_PHASES; i++) v[base + 1 + i] = phase[i];
            for (int i = 0; i < counts.length(); i++) v[base + 1 + MAX_PHASES + i] = counts.get(i);
            into.add(v);
        }
    }
}
