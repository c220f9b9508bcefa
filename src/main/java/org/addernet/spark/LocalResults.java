package org.addernet.spark;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Local mode's step function and task results by key (the twins of {@link SparkJob.WeightsRef#local}): in {@code local}
 * and {@code local[N]} the tasks run in the driver's JVM. The job's function stays here and its task binary carries
 * only the job's number (the DAGScheduler Java-serializes the function into every job's task binary and each task
 * deserializes it again: LeNet-5-BN's step function with its settings is 1.4 KB of records, arrays and strings; the
 * key 147 bytes), and a task leaves its value here and returns only a {@link Key}; the driver's result handler takes
 * the value out. That takes off every step's critical path what a
 * serialized result costs there: Kryo-writing the value on the task thread after the compute (LeNet-5-BN: 254 KB per
 * task), Java-serializing the {@code DirectTaskResult} around it, and both deserializations on the
 * {@code task-result-getter} thread (1.6 MB allocated per LeNet step there). The value is the same object either way,
 * so the bits are the same. A job opens its table before it runs and closes it after, so the values of attempts whose
 * results Spark drops (a duplicate success, a job that failed) go with the job; a task that starts after its job's
 * table is gone fails (its result would be dropped anyway), one whose job closes while it runs returns its value
 * the ordinary way.
 */
final class LocalResults {
    private LocalResults() {}

    /** A job's function and its results by number. */
    private record Job(Object task, Map<Long, Object> results) {}

    private static final Map<Long, Job> JOBS = new ConcurrentHashMap<>();
    private static final AtomicLong NEXT = new AtomicLong();

    /** What a task returns instead of its value: the job and the entry holding it. */
    static final class Key implements java.io.Serializable {
        private static final long serialVersionUID = 1L;
        final long job, id;

        Key(long job, long id) {
            this.job = job;
            this.id = id;
        }
    }

    /** A fresh job's table holding its function {@code task} (the id for {@link #task}, {@link #put}, {@link #take}, {@link #close}). */
    static long open(Object task) {
        long job = NEXT.incrementAndGet();
        JOBS.put(job, new Job(task, new ConcurrentHashMap<>()));
        return job;
    }

    /** Task side: the job's function. */
    static Object task(long job) {
        Job j = JOBS.get(job);
        if (j == null) throw new IllegalStateException("local job " + job + " is over: a task outlived its job");
        return j.task();
    }

    /** Task side: {@code value} under a new key of {@code job}, or the value itself when the job is over. */
    static Object put(long job, Object value) {
        Job j = JOBS.get(job);
        if (j == null) return value;
        Map<Long, Object> t = j.results();
        long id = NEXT.incrementAndGet();
        t.put(id, value);
        return new Key(job, id);
    }

    /** Driver side: the value a task returned (itself, or what its key holds; the entry is removed). */
    static Object take(Object result) {
        if (!(result instanceof Key k)) return result;
        Job j = JOBS.get(k.job);
        Object v = j == null ? null : j.results().remove(k.id);
        if (v == null) throw new IllegalStateException("local task result " + k.job + "/" + k.id + " is gone: its job ended before the result was handled");
        return v;
    }

    static void close(long job) {
        JOBS.remove(job);
    }

    /** Entries still held (tests: none after a job). */
    static int held() {
        int n = 0;
        for (Job j : JOBS.values()) n += j.results().size();
        return n + JOBS.size();
    }
}
