package org.addernet.engine;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * The engine's one pool of compute threads, created once and sized by configuration ({@code threads}).
 *
 * <p>{@link #parallelFor} splits {@code tasks} into one contiguous range per thread, assigned statically:
 * thread {@code t} always runs tasks {@code [t*tasks/T, (t+1)*tasks/T)}. The calling thread runs range 0 itself.
 *
 * <p>Results must not depend on the thread count (a Spark task with 1 thread and the single process with 2 give
 * the same bits): a body may only write outputs that belong to its tasks, and any sum across tasks must be kept
 * per task (never per thread) and combined in task order afterwards. The {@code thread} index is for scratch
 * buffers only. The engine's kernels, layers and data fills follow this rule (tested at 1, 2, 3 and 8 threads).
 *
 * <p>Hand-off: a forward pass makes a few dozen parallel calls of some 10-100 microseconds each (ResNet-20 at batch 1),
 * and waking a thread blocked in {@code Object.wait} costs about as much (measured: batch-1 inference of ResNet-20 took
 * 6.4 ms on 2 threads against 2.1 ms on 1). So the threads spin on the current call ({@code job}) for {@link #SPIN_NS}
 * after each call before they block, and the caller spins on the count of unfinished ranges before it parks; a
 * pool that sits idle still ends up blocked, costing no CPU.
 */
public final class ThreadPool implements AutoCloseable {
    /** Body of a parallel loop: runs tasks {@code [from, to)} on thread {@code thread}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int thread, int from, int to);
    }

    /** How long an idle thread (or the waiting caller) spins before it blocks: a few call gaps of a forward pass. */
    static final long SPIN_NS = 100_000;

    private final int threads;
    private final Thread[] workers;
    private final Object lock = new Object();
    /**
     * One parallel call: its body and task count. {@code remaining} counts down what the caller waits for: the workers'
     * ranges (static, {@link #parallelFor}: thread t runs range t) or the tasks (claimed, {@link #parallelForClaimed}:
     * threads take tasks one at a time from {@code next}, null for a static call). A new object per call, published
     * through the volatile {@link #job}: a worker that sees it sees its fields.
     */
    private static final class Job {
        final RangeBody body;
        final int tasks;
        final Thread caller;
        final boolean claimed;
        final int traceSlot;
        final AtomicInteger remaining, next;

        Job(RangeBody body, int tasks, Thread caller, boolean claimed, int traceSlot, int workers) {
            this.body = body;
            this.tasks = tasks;
            this.caller = caller;
            this.claimed = claimed;
            this.traceSlot = traceSlot;
            this.remaining = new AtomicInteger(claimed ? tasks : workers);
            this.next = claimed ? new AtomicInteger() : null;
        }
    }

    private volatile Job job;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean closed;
    /** Calls handed to the worker threads so far (written under {@code lock}); see {@link #dispatches}. */
    private long dispatches;
    /** Non-null while a benchmark records the hand-offs ({@link #trace}); read by the caller and the workers. */
    private volatile HandOffTrace trace;

    public ThreadPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int t = 1; t < threads; t++) {
            final int id = t;
            Thread th = new Thread(() -> workerLoop(id), "addernet-engine-" + t);
            th.setDaemon(true);
            workers[t - 1] = th;
            th.start();
        }
    }

    public int threads() {
        return threads;
    }

    /**
     * Parallel calls handed to the worker threads since the pool started (calls with one task, or on a one-thread pool,
     * run inline and are not counted): each costs a wake-up and a join, so benchmarks report it per image.
     */
    public long dispatches() {
        synchronized (lock) {
            return dispatches;
        }
    }

    /**
     * Starts ({@code t} not null) or stops recording every call's timestamps into {@code t} (benchmarks only: see
     * {@link HandOffTrace}); call it between parallel calls, from the thread that makes them.
     */
    public void trace(HandOffTrace t) {
        if (t != null && t.threads() != threads) throw new IllegalArgumentException("trace for " + t.threads() + " threads, pool has " + threads);
        trace = t;
    }

    /** Runs {@code body} over {@code tasks} tasks split statically over all threads; returns when all are done. */
    public void parallelFor(int tasks, RangeBody body) {
        run(tasks, body, false);
    }

    /**
     * Runs tasks {@code [0, tasks)}, each as {@code body.run(thread, i, i + 1)}, taken one at a time by whichever thread
     * is free, the caller included; returns when every task has run. Only for work whose results do not depend on which
     * thread runs a task (the {@code thread} index is for scratch buffers). A thread that is late (descheduled, or still
     * spinning up) holds up only the task it has taken: the others take the rest, and a worker that comes after the last
     * task finds none. So a forward of short calls does not stall a whole time slice on one preempted thread, where
     * {@link #parallelFor} waits for every thread's range. Tasks are taken in index order: task i starts only after tasks
     * 0..i-1 have been taken (not finished), which lets a call put a phase first (the batch-1 pack) and wait for it.
     */
    public void parallelForClaimed(int tasks, RangeBody body) {
        run(tasks, body, true);
    }

    private void run(int tasks, RangeBody body, boolean claimed) {
        if (tasks <= 0) return;
        HandOffTrace tr = trace;
        if (threads == 1 || tasks == 1) {
            int slot = tr == null ? -1 : tr.begin(false);
            if (slot >= 0) tr.rangeStart(slot, 0);
            if (claimed) {
                // As on more threads: a task's failure does not stop the others; the first is rethrown at the end.
                Throwable first = null;
                for (int i = 0; i < tasks; i++) {
                    try {
                        body.run(0, i, i + 1);
                    } catch (Throwable e) {
                        if (first == null) first = e;
                    }
                }
                if (first instanceof RuntimeException re) throw re;
                if (first instanceof Error err) throw err;
                if (first != null) throw new IllegalStateException(first);
            } else {
                body.run(0, 0, tasks);
            }
            if (slot >= 0) {
                tr.rangeEnd(slot, 0);
                tr.joined(slot);
            }
            return;
        }
        int slot = tr == null ? -1 : tr.begin(true);
        Job j = new Job(body, tasks, Thread.currentThread(), claimed, slot, threads - 1);
        synchronized (lock) {
            if (closed) throw new IllegalStateException("thread pool is closed");
            dispatches++;
            job = j;
            lock.notifyAll();
        }
        Throwable own = null;
        try {
            if (slot >= 0) tr.rangeStart(slot, 0);
            if (claimed) runClaimed(j, 0);
            else runRange(0, body, tasks);
            if (slot >= 0) tr.rangeEnd(slot, 0);
        } catch (Throwable e) {
            own = e;
        }
        // Wait for every range (static) or task (claimed) even when interrupted (a killed Spark task): returning early
        // would let the next call start while this one's ranges still run.
        boolean interrupted = false;
        long spinUntil = System.nanoTime() + SPIN_NS;
        while (j.remaining.get() != 0) {
            if (System.nanoTime() < spinUntil) {
                Thread.onSpinWait();
            } else {
                LockSupport.park(this); // the last worker to finish unparks us; a spurious wake-up just loops
                interrupted |= Thread.interrupted();
            }
        }
        if (slot >= 0) tr.joined(slot);
        if (interrupted) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for engine threads");
        }
        Throwable other = failure.getAndSet(null);
        Throwable first = own != null ? own : other;
        if (first instanceof RuntimeException re) throw re;
        if (first instanceof Error err) throw err;
        if (first != null) throw new IllegalStateException(first);
    }

    private void runRange(int t, RangeBody b, int n) {
        int from = (int) ((long) t * n / threads);
        int to = (int) ((long) (t + 1) * n / threads);
        if (from < to) b.run(t, from, to);
    }

    /**
     * Takes and runs tasks of a claimed job until none is left; a task's failure is kept for the caller and the others
     * still run. The thread that finishes the last task wakes the caller.
     */
    private void runClaimed(Job j, int t) {
        for (int i = j.next.getAndIncrement(); i < j.tasks; i = j.next.getAndIncrement()) {
            try {
                j.body.run(t, i, i + 1);
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            } finally {
                if (j.remaining.decrementAndGet() == 0 && t != 0) LockSupport.unpark(j.caller);
            }
        }
    }

    private void workerLoop(int id) {
        Job last = null;
        while (true) {
            long spinUntil = System.nanoTime() + SPIN_NS;
            while (job == last && !closed && System.nanoTime() < spinUntil) Thread.onSpinWait();
            if (job == last && !closed) {
                synchronized (lock) {
                    while (job == last && !closed) {
                        try {
                            lock.wait();
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }
            }
            if (closed) return;
            Job j = job;
            last = j;
            HandOffTrace tr = trace;
            int slot = j.traceSlot;
            if (j.claimed) {
                // A late worker may find every task taken: it then records nothing and waits for the next call.
                if (j.next.get() >= j.tasks) continue;
                if (tr != null && slot >= 0) tr.rangeStart(slot, id);
                runClaimed(j, id);
                if (tr != null && slot >= 0) tr.rangeEnd(slot, id);
                continue;
            }
            try {
                if (tr != null && slot >= 0) tr.rangeStart(slot, id);
                runRange(id, j.body, j.tasks);
                if (tr != null && slot >= 0) tr.rangeEnd(slot, id);
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            } finally {
                if (j.remaining.decrementAndGet() == 0) LockSupport.unpark(j.caller);
            }
        }
    }

    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
            lock.notifyAll();
        }
    }
}
