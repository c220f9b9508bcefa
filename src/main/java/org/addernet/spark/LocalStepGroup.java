package org.addernet.spark;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.addernet.train.StepAggregate;
import org.addernet.train.TreeOrder;
import org.apache.spark.SimpleFutureAction;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction0;
import scala.runtime.AbstractFunction1;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;

/**
 * Local mode's {@code sync=driver} steps, up to {@code steps_per_job} of them in one Spark job (issue 8: in
 * {@code local[2]} a LeNet-5-BN step spent ~11 of its ~30 ms in Spark's per-job machinery: submit to the first task
 * 4.2 ms, start spread 1.1, end spread 4.7, task end to result 2.0). The job's W tasks stay: each takes the driver's
 * steps one after the other from this JVM-local group (in {@code local}/{@code local[N]} the tasks run in the driver's
 * JVM), runs the very {@link SparkJob.StepTask} a one-job step would run and leaves its {@link StepAggregate} here; the
 * driver waits for all W, sums them in {@link TreeOrder} and applies them itself, as ever. So the sums, the scaling,
 * the update and their bits are those of a job per step; only the job around the tasks is shared.
 *
 * <p>Faults: the driver applies a step only once every partition's result of that step is in, so a task that fails
 * mid-step loses nothing and applies nothing. Spark then retries it (a killed attempt, or {@code local[N,F]}) and the
 * new attempt recomputes the step still pending from the same weights, sampling and settings (the same bits, as a
 * retried task of a one-job step), or the job fails and {@link #step} throws Spark's exception, as {@code runJob} would.
 * Every other step, checkpoint, epoch end and evaluation happens where it happened before: the group ends before the
 * driver runs any other job on these slots ({@link #end}: evaluation, closing), and also when somebody else's job starts
 * on the context (its tasks would wait for the group's slots).
 */
final class LocalStepGroup implements AutoCloseable {
    /** The running groups by key: a task finds its group here (the task binary carries only the key). */
    private static final Map<Long, Group> GROUPS = new ConcurrentHashMap<>();
    private static final AtomicLong NEXT = new AtomicLong();
    /** Local property marking a group's job, so the listener tells it from another job. */
    static final String PROPERTY = "addernet.step.group";
    /** Tests: called on a group task before it takes the step at {@code (partition, steps this attempt has done)}. */
    static volatile java.util.function.BiConsumer<Integer, Integer> beforeStep;

    private final JavaSparkContext jsc;
    private final JavaRDD<Object> shards;
    private final int workers, depth, stepsPerJob;
    private final SparkListener yielder;
    /** The group whose job runs now (the driver thread's), or null. */
    private volatile Group open;

    LocalStepGroup(JavaSparkContext jsc, JavaRDD<Object> shards, int workers, int depth, int stepsPerJob) {
        this.jsc = jsc;
        this.shards = shards;
        this.workers = workers;
        this.depth = depth;
        this.stepsPerJob = stepsPerJob;
        this.yielder = new SparkListener() {
            @Override
            public void onJobStart(SparkListenerJobStart start) {
                java.util.Properties p = start.properties();
                Group g = open;
                if (g == null) return;
                // Another job wants slots (any job but this group's own, another group's included): the group stops
                // after its current step.
                if (p != null && String.valueOf(g.key).equals(p.getProperty(PROPERTY))) return;
                g.finish();
            }
        };
        jsc.sc().addSparkListener(yielder);
    }

    /** One step: {@code task} on every partition, the results summed in {@link TreeOrder} (as {@link OrderedTreeReduce}). */
    StepAggregate step(SparkJob.StepTask task, String description, StepTimings timings) throws Exception {
        if (timings != null) timings.localSubmit(workers);
        StepAggregate[] r;
        Group g;
        while (true) {
            g = open;
            if (g == null) g = start(description);
            try {
                r = g.run(task, timings != null);
            } catch (Exception e) {
                // A failed job is over; an interrupted driver leaves the tasks polling: stop them and free the slots.
                open = null;
                g.finish();
                if (!g.job.isCompleted()) g.job.cancel();
                GROUPS.remove(g.key);
                throw e;
            }
            if (r != null) break;
            end(); // the group was finishing (another job started): a new one takes this step
        }
        if (g.stepsLeft-- <= 1) end();
        if (timings != null) {
            timings.localReturned();
            timings.lap(StepTimings.Lap.JOB);
        }
        StepAggregate acc = TreeOrder.merge(List.of(r), depth, StepAggregate::merge);
        if (timings != null) timings.lap(StepTimings.Lap.SUM);
        return acc;
    }

    private Group start(String description) {
        Group g = new Group(NEXT.incrementAndGet(), workers, stepsPerJob);
        GROUPS.put(g.key, g);
        List<Object> ids = new java.util.ArrayList<>();
        for (int p = 0; p < workers; p++) ids.add(p);
        jsc.setJobDescription(description + " (up to " + stepsPerJob + " steps in this job)");
        jsc.setLocalProperty(PROPERTY, String.valueOf(g.key));
        // Not a timed step job for StepTimings' listener: one task here spans many steps (the local_* stamps time them).
        String timed = jsc.getLocalProperty(StepTimings.PROPERTY);
        jsc.setLocalProperty(StepTimings.PROPERTY, null);
        jsc.setLocalProperty(SparkJob.CALL_SITE_SHORT, "training steps");
        jsc.setLocalProperty(SparkJob.CALL_SITE_LONG, "org.addernet.spark.LocalStepGroup training steps (sync=driver, local mode)");
        try {
            g.job = jsc.sc().submitJob(shards.rdd(), new Steps(g.key), CollectionConverters.asScala(ids).toSeq(),
                    new AbstractFunction2<Object, Integer, BoxedUnit>() {
                        @Override
                        public BoxedUnit apply(Object partition, Integer steps) {
                            return BoxedUnit.UNIT;
                        }
                    }, new AbstractFunction0<BoxedUnit>() {
                        @Override
                        public BoxedUnit apply() {
                            return BoxedUnit.UNIT;
                        }
                    });
        } catch (RuntimeException e) {
            GROUPS.remove(g.key);
            throw e;
        } finally {
            jsc.setLocalProperty(PROPERTY, null);
            jsc.setLocalProperty(StepTimings.PROPERTY, timed);
            jsc.setLocalProperty(SparkJob.CALL_SITE_SHORT, null);
            jsc.setLocalProperty(SparkJob.CALL_SITE_LONG, null);
        }
        open = g;
        return g;
    }

    /** Ends the running group, if any: its tasks return and its job ends (before the driver runs another job). */
    void end() throws Exception {
        Group g = open;
        if (g == null) return;
        open = null;
        g.finish();
        try {
            await(g.job);
        } finally {
            GROUPS.remove(g.key);
        }
    }

    /** Waits for a group's job; its failure as {@code runJob} throws it (not wrapped in "Exception thrown in awaitResult"). */
    private static void await(SimpleFutureAction<BoxedUnit> job) throws Exception {
        try {
            job.get();
        } catch (org.apache.spark.SparkException e) {
            if (e.getCause() instanceof Exception c) throw c;
            throw e;
        }
    }

    @Override
    public void close() {
        jsc.sc().removeSparkListener(yielder);
        Group g = open;
        if (g == null) return;
        try {
            end();
        } catch (Exception e) {
            g.job.cancel(); // a failed job is over already; this only stops one still running
        }
    }

    /** Steps in groups now (tests: none after a job). */
    static int running() {
        return GROUPS.size();
    }

    /**
     * What the driver and a group's tasks share: the current step (its number and task) and, per partition, the
     * number of the last step whose result is in, with that result. Guarded by {@link #lock}.
     */
    private static final class Group {
        final long key;
        final int workers;
        final ReentrantLock lock = new ReentrantLock();
        final Condition changed = lock.newCondition();
        long seq;
        SparkJob.StepTask task;
        boolean timed;
        final long[] doneSeq;
        final StepAggregate[] results;
        boolean finish;
        int stepsLeft;
        SimpleFutureAction<BoxedUnit> job;

        Group(long key, int workers, int steps) {
            this.key = key;
            this.workers = workers;
            this.doneSeq = new long[workers];
            this.results = new StepAggregate[workers];
            this.stepsLeft = steps;
        }

        /**
         * Driver: posts {@code t} and waits for every partition's result; null (nothing posted) when the group is
         * finishing, since its tasks may have returned already; throws the job's failure if it ends first.
         */
        StepAggregate[] run(SparkJob.StepTask t, boolean timed) throws Exception {
            lock.lock();
            try {
                if (finish) return null;
                task = t;
                this.timed = timed;
                seq++;
                changed.signalAll();
                StepAggregate[] out = new StepAggregate[workers];
                int have = 0;
                while (have < workers) {
                    for (int p = 0; p < workers; p++) {
                        if (out[p] == null && doneSeq[p] == seq) {
                            out[p] = results[p];
                            results[p] = null;
                            have++;
                            if (timed) StepTimings.localHandled(p);
                        }
                    }
                    if (have == workers) break;
                    if (job.isCompleted()) {
                        await(job); // the job failed: Spark's exception, as runJob's
                        throw new IllegalStateException("the step job ended with " + have + " of " + workers + " results of step " + seq);
                    }
                    changed.await(20, TimeUnit.MILLISECONDS);
                }
                task = null;
                return out;
            } finally {
                lock.unlock();
            }
        }

        void finish() {
            lock.lock();
            try {
                finish = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

    }

    /**
     * A group's task: reads its shard once, then runs every step the driver posts until the group finishes. A named
     * class (serialized once per group into the task binary, left alone by the ClosureCleaner).
     */
    static final class Steps extends AbstractFunction1<scala.collection.Iterator<Object>, Integer> implements java.io.Serializable {
        private static final long serialVersionUID = 1L;
        private final long key;

        Steps(long key) {
            this.key = key;
        }

        @Override
        public Integer apply(scala.collection.Iterator<Object> part) {
            TaskContext ctx = TaskContext.get();
            int p = ctx.partitionId();
            Group g = GROUPS.get(key);
            if (g == null) return 0; // the group ended before this attempt started: nothing is pending
            Object shard = part.next();
            int done = 0;
            while (true) {
                SparkJob.StepTask t;
                long s;
                g.lock.lock();
                try {
                    while (g.task == null || g.doneSeq[p] == g.seq) {
                        if (g.finish) return done;
                        ctx.killTaskIfInterrupted();
                        g.changed.await(100, TimeUnit.MILLISECONDS);
                    }
                    t = g.task;
                    s = g.seq;
                } catch (InterruptedException e) {
                    ctx.killTaskIfInterrupted();
                    throw new IllegalStateException("step group task interrupted", e);
                } finally {
                    g.lock.unlock();
                }
                java.util.function.BiConsumer<Integer, Integer> hook = beforeStep;
                if (hook != null) hook.accept(p, done);
                StepAggregate r;
                try {
                    r = t.call(p, List.of(shard).iterator()).next()._2();
                } catch (RuntimeException e) {
                    throw e;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                ctx.killTaskIfInterrupted(); // a killed attempt leaves the step to its retry
                g.lock.lock();
                try {
                    g.results[p] = r;
                    g.doneSeq[p] = s;
                    g.changed.signalAll();
                } finally {
                    g.lock.unlock();
                }
                done++;
            }
        }
    }
}
