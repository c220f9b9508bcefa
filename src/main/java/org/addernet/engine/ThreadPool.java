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
 * 6.4 ms on 2 threads against 2.1 ms on 1). So the threads spin on the generation counter for {@link #SPIN_NS}
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
    // body, tasks and caller are written before generation (volatile): a thread that sees a new generation sees them.
    private RangeBody body;
    private int tasks;
    private Thread caller;
    private volatile long generation;
    /** Ranges of the current call not yet finished by the worker threads. */
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean closed;
    /** Calls handed to the worker threads so far (written under {@code lock}); see {@link #dispatches}. */
    private long dispatches;
    /** Non-null while a benchmark records the hand-offs ({@link #trace}); read by the caller and the workers. */
    private volatile HandOffTrace trace;
    /** The trace slot of the current call (written before generation, as body). */
    private int traceSlot;

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
        if (tasks <= 0) return;
        HandOffTrace tr = trace;
        if (threads == 1 || tasks == 1) {
            int slot = tr == null ? -1 : tr.begin(false);
            if (slot >= 0) tr.rangeStart(slot, 0);
            body.run(0, 0, tasks);
            if (slot >= 0) {
                tr.rangeEnd(slot, 0);
                tr.joined(slot);
            }
            return;
        }
        int slot = tr == null ? -1 : tr.begin(true);
        synchronized (lock) {
            if (closed) throw new IllegalStateException("thread pool is closed");
            this.body = body;
            this.tasks = tasks;
            this.caller = Thread.currentThread();
            this.traceSlot = slot;
            pending.set(threads - 1);
            dispatches++;
            generation++;
            lock.notifyAll();
        }
        Throwable own = null;
        try {
            if (slot >= 0) tr.rangeStart(slot, 0);
            runRange(0, body, tasks);
            if (slot >= 0) tr.rangeEnd(slot, 0);
        } catch (Throwable e) {
            own = e;
        }
        // Wait for every range even when interrupted (a killed Spark task): returning early would let the next call
        // start while this one's ranges still run.
        boolean interrupted = false;
        long spinUntil = System.nanoTime() + SPIN_NS;
        while (pending.get() != 0) {
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

    private void workerLoop(int id) {
        long seen = 0;
        while (true) {
            long spinUntil = System.nanoTime() + SPIN_NS;
            while (generation == seen && !closed && System.nanoTime() < spinUntil) Thread.onSpinWait();
            if (generation == seen && !closed) {
                synchronized (lock) {
                    while (generation == seen && !closed) {
                        try {
                            lock.wait();
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }
            }
            if (closed) return;
            seen = generation;
            RangeBody b = body;
            int n = tasks;
            Thread waiting = caller;
            HandOffTrace tr = trace;
            int slot = traceSlot;
            try {
                if (tr != null && slot >= 0) tr.rangeStart(slot, id);
                runRange(id, b, n);
                if (tr != null && slot >= 0) tr.rangeEnd(slot, id);
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            } finally {
                if (pending.decrementAndGet() == 0) LockSupport.unpark(waiting);
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
