package org.addernet.spark;

import java.io.PrintStream;
import java.util.Locale;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * No step runs in waves: a synchronous step wants its W tasks at once, and with fewer free task slots Spark would
 * run them one wave after another (each step twice as long or worse, silently). Before a step the job compares W
 * with the slots Spark can run concurrently; if short it says so once and waits (an executor being replaced after a
 * loss registers within seconds) up to {@code slot_wait_seconds}, then fails with a message naming the numbers. In
 * local mode no slot will ever appear: it fails at once.
 */
final class SlotCheck {
    private final JavaSparkContext jsc;
    private final int workers, waitSeconds;
    private final PrintStream log;

    SlotCheck(JavaSparkContext jsc, int workers, int waitSeconds, PrintStream log) {
        this.jsc = jsc;
        this.workers = workers;
        this.waitSeconds = waitSeconds;
        this.log = log;
    }

    /** Task slots of the default resource profile (cores / spark.task.cpus over the live executors). */
    int slots() {
        SparkContext sc = jsc.sc();
        return sc.maxNumConcurrentTasks(sc.resourceProfileManager().defaultResourceProfile());
    }

    void await() {
        int have = slots();
        if (have >= workers) return;
        if (jsc.isLocal()) { // no executor will ever join
            throw new IllegalStateException("master " + jsc.master() + " runs " + have + " tasks at once but workers=" + workers
                    + ": the steps would run in waves; use local[" + workers + "] or lower workers");
        }
        log.printf(Locale.ROOT, "waiting for %d task slots (have %d): a step runs all workers at once; waiting up to slot_wait_seconds=%d%n",
                workers, have, waitSeconds);
        long t0 = System.nanoTime(), deadline = t0 + waitSeconds * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for task slots", e);
            }
            have = slots();
            if (have >= workers) {
                log.printf(Locale.ROOT, "have %d task slots after %.1f s%n", have, (System.nanoTime() - t0) / 1e9);
                return;
            }
        }
        throw new IllegalStateException("the cluster offers " + have + " task slots for workers=" + workers + " after waiting "
                + waitSeconds + " s (slot_wait_seconds): the steps would run in waves; add executors or cores, or lower workers");
    }
}
