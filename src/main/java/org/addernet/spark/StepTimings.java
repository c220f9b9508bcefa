package org.addernet.spark;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
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
 * Where the milliseconds of a {@code sync=driver} step go (issue 8): three sources, summed over a window of steps and
 * reported as per-step (driver, job) or per-task means.
 * <ul>
 *   <li><b>Driver laps</b> on the thread that runs the steps, wall and thread-CPU time: {@code weights} (snapshot and
 *   broadcast of the weights), {@code job} (submitting the Spark job until every result is back), {@code sum} (the
 *   ordered sum of the workers' results), {@code destroy} (the weight broadcast), and {@code outside} (from the step
 *   runner's return to its next call: the SGD update, the trainer's bookkeeping, logging, a checkpoint when one falls
 *   between two steps; not the evaluation at an epoch's end).</li>
 *   <li><b>Spark's task metrics</b> of the step jobs (this listener): the task's duration as the driver saw it (launch
 *   to result handled), {@code executorDeserializeTime} (task and closure, with the weights when they travel in it),
 *   {@code executorRunTime}, {@code resultSerializationTime}, {@code gettingResultTime} (results fetched from a block
 *   manager, above {@code spark.task.maxDirectResultSize}), the scheduler delay as Spark's UI computes it (duration
 *   minus run, deserialization, result serialization and result fetch: messaging, queueing, the driver's result
 *   deserialization), GC, result bytes; per job: submission to the first task's launch, the spread of the task ends
 *   (the slower worker), the last task end to the job's end. Spark records most of these in whole milliseconds, the
 *   CPU times in nanoseconds: under load the CPU times and counts are the ones to read.</li>
 *   <li><b>Task phases</b> measured inside {@link SparkJob.StepTask} (an accumulator): reading the weights, copying
 *   them into the executor's model, sampling, batch assembly, forward/backward, each wall and thread-CPU.</li>
 * </ul>
 * The step jobs are the ones run with the local property {@link #PROPERTY} set. Spark's events reach the listener
 * asynchronously: a window may miss the last step's task events (the counts in the report say what was seen).
 */
final class StepTimings extends SparkListener {
    /** Local property marking the jobs whose tasks are counted. */
    static final String PROPERTY = "addernet.timed.step";
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** Driver laps, in this order. */
    enum Lap { WEIGHTS, JOB, SUM, DESTROY, OUTSIDE }

    /** Task phases, in this order (slots of {@link #phases}). */
    enum Phase { SAMPLE, WEIGHTS_FETCH, LOAD, FILL, COMPUTE }

    // Driver side (the stepping thread only).
    private final long[] lapNanos = new long[Lap.values().length], lapCpu = new long[Lap.values().length];
    private long lapStart, lapStartCpu, steps;
    private boolean inStep, afterStep;

    // Listener side (synchronized: the listener thread writes, the driver reads).
    private final Map<Integer, Integer> stageJob = new HashMap<>();
    private final Map<Integer, long[]> jobs = new HashMap<>(); // job -> {start, firstLaunch, firstEnd, lastEnd}
    private long tasks, jobsSeen, duration, deser, deserCpu, run, runCpu, resultSer, gettingResult, schedulerDelay, gc, resultBytes;
    private long toFirstLaunch, endSpread, lastEndToJobEnd;

    /**
     * Local mode only (the tasks run in this JVM, so driver and tasks share {@link System#nanoTime}): the timed job's
     * stamps, {@code [submit, return, then per partition p at 2 + 5p: task entry, task exit, result handled, thread CPU
     * at entry, at exit]}; null when no timed local job runs. One timed step job runs at a time.
     */
    private static volatile long[] localJob;
    private final boolean local;
    /** Sums over the window's local jobs: submit to first task entry, entry spread, exit spread, exit to result
     * handled (per task), last result to runJob's return; per partition: task wall, task CPU. */
    private long localJobs, localToFirstEntry, localEntrySpread, localExitSpread, localExitToHandled, localLastToReturn;
    private long[] localWall = new long[0], localCpu = new long[0];

    /** The task phases ({@link #PHASE_SLOTS}: tasks, then wall and thread-CPU nanoseconds per phase); tasks add, Spark merges. */
    final LongSums phases = new LongSums(PHASE_SLOTS);
    /** CPU nanoseconds of every live JVM thread at the last report, by thread id; their names. */
    private Map<Long, Long> threadCpu = new HashMap<>();
    private final Map<Long, String> threadGroup = new HashMap<>();
    /** Bytes allocated by every live JVM thread at the last report, by thread id (HotSpot's ThreadMXBean; else empty). */
    private Map<Long, Long> threadAlloc = new HashMap<>();
    /** The JVM's minor page faults at the last report ({@code /proc/self/stat}; -1 where there is none). */
    private long minorFaults = minorFaults();

    StepTimings(JavaSparkContext jsc) {
        this.local = jsc.isLocal();
        jsc.sc().register(phases);
        jsc.sc().addSparkListener(this);
        threadCpu = threadCpu(new LinkedHashMap<>());
        threadAlloc = threadAlloc(new LinkedHashMap<>());
    }

    /**
     * Bytes allocated by every live thread now (by id), and what each group of threads (as {@link #threadCpu})
     * allocated since the previous values, into {@code groups}. Allocation is what a heap never touched before turns
     * into page faults (first touch of fresh eden regions, counted as the allocating thread's system CPU), so the
     * per-step bytes of Spark's threads are a load-independent count of where that CPU comes from.
     */
    private Map<Long, Long> threadAlloc(Map<String, Long> groups) {
        Map<Long, Long> now = new HashMap<>();
        if (!(THREADS instanceof com.sun.management.ThreadMXBean hs) || !hs.isThreadAllocatedMemorySupported()) return now;
        for (long id : THREADS.getAllThreadIds()) {
            long b = hs.getThreadAllocatedBytes(id);
            String g = threadGroup.get(id);
            if (b < 0 || g == null) continue; // threadCpu (called first) named every live thread
            now.put(id, b);
            groups.merge(g, b - threadAlloc.getOrDefault(id, 0L), Long::sum);
        }
        return now;
    }

    /** Minor page faults of this JVM so far (field 10 of {@code /proc/self/stat}), or -1 off Linux. */
    static long minorFaults() {
        try {
            String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/stat"));
            // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" +");
            return Long.parseLong(f[7]); // fields 3, 4, ... : state ppid pgrp session tty_nr tpgid flags minflt
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
    }

    /**
     * CPU time of every live thread now (by id), and the CPU each group of threads (names without their numbers:
     * {@code dag-scheduler-event-loop}, {@code Executor task launch worker-N}, ...) used since {@link #threadCpu}'s
     * previous values, into {@code groups}. The work of Spark's own threads (scheduling, result handling, listeners)
     * does not show in any task metric.
     */
    private Map<Long, Long> threadCpu(Map<String, Long> groups) {
        Map<Long, Long> now = new HashMap<>();
        for (long id : THREADS.getAllThreadIds()) {
            long c = THREADS.getThreadCpuTime(id);
            if (c < 0) continue;
            String g = threadGroup.get(id);
            if (g == null) {
                java.lang.management.ThreadInfo info = THREADS.getThreadInfo(id);
                if (info == null) continue;
                g = info.getThreadName().replaceAll("[0-9]+", "N");
                threadGroup.put(id, g);
            }
            now.put(id, c);
            groups.merge(g, c - threadCpu.getOrDefault(id, 0L), Long::sum);
        }
        threadGroup.keySet().retainAll(now.keySet());
        return now;
    }

    /** The driver is about to submit a timed step job of {@code partitions} tasks (local mode: starts its stamps). */
    void localSubmit(int partitions) {
        if (!local) return;
        long[] j = new long[2 + 5 * partitions];
        j[0] = System.nanoTime();
        localJob = j;
    }

    /** A timed task of the current local job enters ({@code exit == false}) or leaves its step function. */
    static void localTask(int partition, boolean exit) {
        long[] j = localJob;
        if (j == null || 2 + 5 * partition + 4 >= j.length) return;
        j[2 + 5 * partition + (exit ? 1 : 0)] = System.nanoTime();
        j[2 + 5 * partition + (exit ? 4 : 3)] = cpuNow();
    }

    /** The driver's result handler got partition {@code p}'s result. */
    static void localHandled(int partition) {
        long[] j = localJob;
        if (j != null && 2 + 5 * partition + 2 < j.length) j[2 + 5 * partition + 2] = System.nanoTime();
    }

    /** runJob returned: folds the job's stamps into the window's sums. */
    void localReturned() {
        long[] j = localJob;
        localJob = null;
        if (j == null) return;
        j[1] = System.nanoTime();
        int w = (j.length - 2) / 5;
        long minIn = Long.MAX_VALUE, maxIn = Long.MIN_VALUE, minOut = Long.MAX_VALUE, maxOut = Long.MIN_VALUE, maxHandled = Long.MIN_VALUE;
        for (int p = 0; p < w; p++) {
            int b = 2 + 5 * p;
            if (j[b] == 0 || j[b + 1] == 0 || j[b + 2] == 0) return; // a task of this job was not timed (retried, or not ours)
        }
        if (localWall.length != w) {
            localWall = new long[w];
            localCpu = new long[w];
        }
        for (int p = 0; p < w; p++) {
            int b = 2 + 5 * p;
            minIn = Math.min(minIn, j[b]);
            maxIn = Math.max(maxIn, j[b]);
            minOut = Math.min(minOut, j[b + 1]);
            maxOut = Math.max(maxOut, j[b + 1]);
            maxHandled = Math.max(maxHandled, j[b + 2]);
            localExitToHandled += j[b + 2] - j[b + 1];
            localWall[p] += j[b + 1] - j[b];
            localCpu[p] += j[b + 4] - j[b + 3];
        }
        localJobs++;
        localToFirstEntry += minIn - j[0];
        localEntrySpread += maxIn - minIn;
        localExitSpread += maxOut - minOut;
        localLastToReturn += j[1] - maxHandled;
    }

    void detach(JavaSparkContext jsc) {
        jsc.sc().removeSparkListener(this);
    }

    static long cpuNow() {
        return THREADS.getCurrentThreadCpuTime();
    }

    /** The step runner starts: closes the {@code outside} lap of the previous step. */
    void startStep() {
        if (afterStep) lap(Lap.OUTSIDE);
        else {
            lapStart = System.nanoTime();
            lapStartCpu = cpuNow();
        }
        inStep = true;
        afterStep = false;
    }

    /** Adds the time since the previous lap (or the step's start) to {@code l}. */
    void lap(Lap l) {
        long t = System.nanoTime(), c = cpuNow();
        lapNanos[l.ordinal()] += t - lapStart;
        lapCpu[l.ordinal()] += c - lapStartCpu;
        lapStart = t;
        lapStartCpu = c;
    }

    /** Drops the time since the last lap (an evaluation between two epochs is no part of a step's cost). */
    void discardLap() {
        lapStart = System.nanoTime();
        lapStartCpu = cpuNow();
    }

    /** The step runner returns: the next lap, until the next {@link #startStep}, is {@code outside}. */
    void endStep() {
        if (!inStep) return;
        steps++;
        inStep = false;
        afterStep = true;
    }

    @Override
    public synchronized void onJobStart(SparkListenerJobStart start) {
        if (start.properties() == null || start.properties().getProperty(PROPERTY) == null) return;
        for (StageInfo s : CollectionConverters.asJava(start.stageInfos())) stageJob.put(s.stageId(), start.jobId());
        jobs.put(start.jobId(), new long[] {start.time(), Long.MAX_VALUE, Long.MAX_VALUE, 0});
    }

    @Override
    public synchronized void onTaskEnd(SparkListenerTaskEnd end) {
        Integer job = stageJob.get(end.stageId());
        TaskMetrics m = end.taskMetrics();
        if (job == null || m == null || !end.taskInfo().successful()) return;
        TaskInfo t = end.taskInfo();
        tasks++;
        long dur = t.duration();
        duration += dur;
        deser += m.executorDeserializeTime();
        deserCpu += m.executorDeserializeCpuTime();
        run += m.executorRunTime();
        runCpu += m.executorCpuTime();
        resultSer += m.resultSerializationTime();
        gettingResult += t.gettingResult() ? t.finishTime() - t.gettingResultTime() : 0;
        // As Spark's UI (AppStatusUtils.schedulerDelay): what the task's duration does not explain.
        schedulerDelay += Math.max(0, dur - m.executorRunTime() - m.executorDeserializeTime() - m.resultSerializationTime()
                - (t.gettingResult() ? t.finishTime() - t.gettingResultTime() : 0));
        gc += m.jvmGCTime();
        resultBytes += m.resultSize();
        long[] j = jobs.get(job);
        if (j != null) {
            j[1] = Math.min(j[1], t.launchTime());
            j[2] = Math.min(j[2], t.finishTime());
            j[3] = Math.max(j[3], t.finishTime());
        }
    }

    @Override
    public synchronized void onJobEnd(SparkListenerJobEnd end) {
        long[] j = jobs.remove(end.jobId());
        stageJob.values().removeIf(v -> v == end.jobId());
        if (j == null || j[3] == 0) return;
        jobsSeen++;
        toFirstLaunch += j[1] - j[0];
        endSpread += j[3] - j[2];
        lastEndToJobEnd += end.time() - j[3];
    }

    /**
     * The means since the last report (then resets): per step for the driver laps and the job timeline, per task for
     * the task metrics and phases, as one flat JSON object (times in ms).
     */
    synchronized String report() {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("steps", steps);
        o.put("jobs_seen", jobsSeen);
        o.put("tasks_seen", tasks);
        long cycle = 0;
        for (long v : lapNanos) cycle += v;
        o.put("step_ms", ms(cycle, steps));
        for (Lap l : Lap.values()) {
            String k = l.name().toLowerCase(Locale.ROOT);
            o.put("driver_" + k + "_ms", ms(lapNanos[l.ordinal()], steps));
            o.put("driver_" + k + "_cpu_ms", ms(lapCpu[l.ordinal()], steps));
        }
        o.put("job_submit_to_first_launch_ms", per(toFirstLaunch, jobsSeen));
        o.put("job_task_end_spread_ms", per(endSpread, jobsSeen));
        o.put("job_last_task_end_to_job_end_ms", per(lastEndToJobEnd, jobsSeen));
        o.put("task_duration_ms", per(duration, tasks));
        o.put("task_deserialize_ms", per(deser, tasks));
        o.put("task_deserialize_cpu_ms", ms(deserCpu, tasks));
        o.put("task_run_ms", per(run, tasks));
        o.put("task_run_cpu_ms", ms(runCpu, tasks));
        o.put("task_result_serialize_ms", per(resultSer, tasks));
        o.put("task_getting_result_ms", per(gettingResult, tasks));
        o.put("task_scheduler_delay_ms", per(schedulerDelay, tasks));
        o.put("task_gc_ms", per(gc, tasks));
        o.put("task_result_bytes", tasks == 0 ? 0 : resultBytes / tasks);
        if (local && localJobs > 0) {
            o.put("local_jobs", localJobs);
            o.put("local_submit_to_first_task_ms", ms(localToFirstEntry, localJobs));
            o.put("local_task_start_spread_ms", ms(localEntrySpread, localJobs));
            o.put("local_task_end_spread_ms", ms(localExitSpread, localJobs));
            o.put("local_task_end_to_result_ms", ms(localExitToHandled, localJobs * Math.max(1, localWall.length)));
            o.put("local_last_result_to_return_ms", ms(localLastToReturn, localJobs));
            Map<String, Object> wall = new LinkedHashMap<>(), cpu = new LinkedHashMap<>();
            for (int q = 0; q < localWall.length; q++) {
                wall.put(String.valueOf(q), ms(localWall[q], localJobs));
                cpu.put(String.valueOf(q), ms(localCpu[q], localJobs));
            }
            o.put("local_task_ms_by_partition", wall);
            o.put("local_task_cpu_ms_by_partition", cpu);
        }
        long[] p = phases.value();
        long n = p[0];
        o.put("phase_tasks", n);
        for (Phase ph : Phase.values()) {
            String k = ph.name().toLowerCase(Locale.ROOT);
            o.put("phase_" + k + "_ms", ms(p[1 + ph.ordinal()], n));
            o.put("phase_" + k + "_cpu_ms", ms(p[1 + Phase.values().length + ph.ordinal()], n));
        }
        Map<String, Long> groups = new java.util.TreeMap<>();
        threadCpu = threadCpu(groups);
        Map<String, Object> perGroup = new LinkedHashMap<>();
        for (Map.Entry<String, Long> g : groups.entrySet()) {
            if (g.getValue() > 0) perGroup.put(g.getKey(), ms(g.getValue(), steps));
        }
        o.put("thread_cpu_ms", perGroup);
        Map<String, Long> alloc = new java.util.TreeMap<>();
        threadAlloc = threadAlloc(alloc);
        Map<String, Object> allocPerGroup = new LinkedHashMap<>();
        for (Map.Entry<String, Long> g : alloc.entrySet()) {
            if (g.getValue() > 0) allocPerGroup.put(g.getKey(), steps == 0 ? 0.0 : g.getValue() / 1e6 / steps);
        }
        o.put("thread_alloc_mb", allocPerGroup);
        long faults = minorFaults();
        o.put("minor_faults", steps == 0 || faults < 0 || minorFaults < 0 ? 0 : (faults - minorFaults) / steps);
        minorFaults = faults;
        reset();
        return json(o);
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * One JSON line of a report: Jackson writes the (nested) map in its order; doubles with 3 decimals, NaN and the
     * infinities (a window without tasks) as null.
     */
    static String json(Map<String, Object> o) {
        try {
            return JSON.writeValueAsString(rounded(o));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("step timings as JSON", e);
        }
    }

    private static Map<String, Object> rounded(Map<String, Object> o) {
        Map<String, Object> r = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : o.entrySet()) {
            Object v = e.getValue();
            if (v instanceof Map<?, ?> m) {
                @SuppressWarnings("unchecked")
                Map<String, Object> inner = (Map<String, Object>) m;
                v = rounded(inner);
            } else if (v instanceof Double d) {
                v = Double.isFinite(d) ? BigDecimal.valueOf(d).setScale(3, RoundingMode.HALF_EVEN) : null;
            }
            r.put(e.getKey(), v);
        }
        return r;
    }

    /** {@code nanos} over {@code n} in milliseconds; NaN without any. */
    static double ms(long nanos, long n) {
        return n == 0 ? Double.NaN : nanos / 1e6 / n;
    }

    /** {@code millis} over {@code n}; NaN without any. */
    static double per(long millis, long n) {
        return n == 0 ? Double.NaN : (double) millis / n;
    }

    private void reset() {
        java.util.Arrays.fill(lapNanos, 0);
        java.util.Arrays.fill(lapCpu, 0);
        steps = 0;
        tasks = jobsSeen = duration = deser = deserCpu = run = runCpu = resultSer = gettingResult = schedulerDelay = gc = resultBytes = 0;
        toFirstLaunch = endSpread = lastEndToJobEnd = 0;
        localJobs = localToFirstEntry = localEntrySpread = localExitSpread = localExitToHandled = localLastToReturn = 0;
        java.util.Arrays.fill(localWall, 0);
        java.util.Arrays.fill(localCpu, 0);
        phases.reset();
    }

    /** Task phase slots: slot 0 counts tasks, then the wall nanoseconds of each {@link Phase}, then their thread-CPU nanoseconds. */
    static final int PHASE_SLOTS = 1 + 2 * Phase.values().length;

    /** A task's clock over {@code phases}: {@link Clock#mark} after each phase, {@link Clock#done} at the end adds them. */
    static Clock task(LongSums phases) {
        return new Clock(phases);
    }

    /** One task's phase times (wall and thread CPU), added to its task-phase accumulator when done. */
    static final class Clock {
        private final LongSums into;
        private final long[] v = new long[PHASE_SLOTS];
        private long t = System.nanoTime(), c = cpuNow();

        Clock(LongSums into) {
            this.into = into;
        }

        void mark(Phase p) {
            long t1 = System.nanoTime(), c1 = cpuNow();
            v[1 + p.ordinal()] += t1 - t;
            v[1 + Phase.values().length + p.ordinal()] += c1 - c;
            t = t1;
            c = c1;
        }

        /** Moves {@code nanos} of wall time (and {@code cpu} of CPU) already counted in {@code from} to {@code to}. */
        void move(Phase from, Phase to, long nanos, long cpu) {
            int n = Phase.values().length;
            v[1 + from.ordinal()] -= nanos;
            v[1 + to.ordinal()] += nanos;
            v[1 + n + from.ordinal()] -= cpu;
            v[1 + n + to.ordinal()] += cpu;
        }

        void done() {
            v[0] = 1;
            into.add(v);
        }
    }
}
