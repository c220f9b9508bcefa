package org.addernet.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** The pool's two kinds of call: static ranges and claimed tasks, mixed back to back as a forward makes them. */
class ThreadPoolTest {
    @Test
    void everyTaskRunsExactlyOnceInBothKindsOfCall() {
        for (int threads : new int[] {1, 2, 3, 8}) {
            try (ThreadPool pool = new ThreadPool(threads)) {
                for (int call = 0; call < 2000; call++) {
                    int tasks = 1 + call % 11;
                    AtomicIntegerArray runs = new AtomicIntegerArray(tasks);
                    AtomicInteger badThread = new AtomicInteger();
                    ThreadPool.RangeBody body = (t, from, to) -> {
                        if (t < 0 || t >= threads) badThread.incrementAndGet();
                        for (int i = from; i < to; i++) runs.incrementAndGet(i);
                    };
                    boolean claimed = call % 3 != 0;
                    if (claimed) pool.parallelForClaimed(tasks, body);
                    else pool.parallelFor(tasks, body);
                    // Returned: every task has run, once (a late worker must not run a task of a finished call).
                    for (int i = 0; i < tasks; i++) assertEquals(1, runs.get(i), "task " + i + " of call " + call + " at " + threads + " threads");
                    assertEquals(0, badThread.get());
                }
            }
        }
    }

    @Test
    void aFailingTaskFailsTheCallAfterTheOthersRan() {
        try (ThreadPool pool = new ThreadPool(2)) {
            AtomicInteger ran = new AtomicInteger();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> pool.parallelForClaimed(6, (t, from, to) -> {
                ran.incrementAndGet();
                if (from == 2) throw new IllegalArgumentException("task 2");
            }));
            assertEquals("task 2", e.getMessage());
            assertEquals(6, ran.get());
            // The pool still works.
            AtomicInteger after = new AtomicInteger();
            pool.parallelFor(4, (t, from, to) -> after.addAndGet(to - from));
            assertEquals(4, after.get());
        }
    }

    @Test
    void aLateWorkerLeavesItsShareOfClaimedTasksToTheCaller() {
        try (ThreadPool pool = new ThreadPool(2)) {
            // The worker stalls inside the first task it takes (as a descheduled thread would): the caller runs the rest.
            AtomicInteger byCaller = new AtomicInteger();
            Thread caller = Thread.currentThread();
            pool.parallelForClaimed(20, (t, from, to) -> {
                if (Thread.currentThread() == caller) {
                    byCaller.incrementAndGet();
                } else {
                    try {
                        Thread.sleep(50); // a descheduled worker
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            });
            assertTrue(byCaller.get() >= 18, "the caller ran " + byCaller.get() + " of 20 tasks while the worker slept");
        }
    }
}
