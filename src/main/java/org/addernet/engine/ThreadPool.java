package org.addernet.engine;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

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
 */
public final class ThreadPool implements AutoCloseable {
    /** Body of a parallel loop: runs tasks {@code [from, to)} on thread {@code thread}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int thread, int from, int to);
    }

    private final int threads;
    private final Thread[] workers;
    private final Object lock = new Object();
    private RangeBody body;
    private int tasks;
    private long generation;
    private CountDownLatch done;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean closed;

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

    /** Runs {@code body} over {@code tasks} tasks split statically over all threads; returns when all are done. */
    public void parallelFor(int tasks, RangeBody body) {
        if (tasks <= 0) return;
        if (threads == 1 || tasks == 1) {
            body.run(0, 0, tasks);
            return;
        }
        CountDownLatch latch = new CountDownLatch(threads - 1);
        synchronized (lock) {
            if (closed) throw new IllegalStateException("thread pool is closed");
            this.body = body;
            this.tasks = tasks;
            this.done = latch;
            this.generation++;
            lock.notifyAll();
        }
        Throwable own = null;
        try {
            runRange(0, body, tasks);
        } catch (Throwable e) {
            own = e;
        }
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for engine threads", e);
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
            RangeBody b;
            int n;
            CountDownLatch latch;
            synchronized (lock) {
                while (generation == seen && !closed) {
                    try {
                        lock.wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (closed) return;
                seen = generation;
                b = body;
                n = tasks;
                latch = done;
            }
            try {
                runRange(id, b, n);
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            } finally {
                latch.countDown();
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
