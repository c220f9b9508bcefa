package org.addernet.spark;

import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.util.LongAccumulator;
import scala.Tuple4;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Driver-side progress of reading a dataset into shards (start-up and resume of an ImageNet run take minutes):
 * tasks add the images and bytes they read to two accumulators; finished tasks count through the accumulators,
 * running ones through the values their executors' heartbeats carry (a {@link SparkListener}), and a daemon thread
 * logs every {@link #PERIOD_MS} ms: images and bytes read of the known totals, rate and ETA. {@link #close} logs the
 * totals and the time taken.
 */
final class StagingProgress implements AutoCloseable {
    /** Log period; executors report running tasks with their heartbeats ({@code spark.executor.heartbeatInterval}, 10 s). */
    static volatile long PERIOD_MS = 10_000;

    final LongAccumulator images, bytes;
    private final JavaSparkContext jsc;
    private final String what;
    private final long totalImages, totalBytes;
    private final PrintStream log;
    private final long start = System.nanoTime();
    private final Map<Long, long[]> running = new ConcurrentHashMap<>(); // task id -> {images, bytes} from heartbeats
    private final SparkListener listener;
    private final Thread thread;

    private StagingProgress(JavaSparkContext jsc, String what, long totalImages, long totalBytes, PrintStream log) {
        this.jsc = jsc;
        this.what = what;
        this.totalImages = totalImages;
        this.totalBytes = totalBytes;
        this.log = log;
        this.images = jsc.sc().longAccumulator(what + ": images read");
        this.bytes = jsc.sc().longAccumulator(what + ": bytes read");
        long imagesId = images.id(), bytesId = bytes.id();
        this.listener = new SparkListener() {
            @Override
            public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate e) {
                for (Tuple4<Object, Object, Object, scala.collection.immutable.Seq<AccumulableInfo>> t
                        : CollectionConverters.asJava(e.accumUpdates())) {
                    long[] v = null;
                    for (AccumulableInfo a : CollectionConverters.asJava(t._4())) {
                        if ((a.id() != imagesId && a.id() != bytesId) || a.update().isEmpty()) continue;
                        if (v == null) v = running.computeIfAbsent((Long) t._1(), k -> new long[2]);
                        v[a.id() == imagesId ? 0 : 1] = ((Number) a.update().get()).longValue();
                    }
                }
            }

            @Override
            public void onTaskEnd(SparkListenerTaskEnd e) {
                running.remove(e.taskInfo().taskId());
            }
        };
        jsc.sc().addSparkListener(listener);
        this.thread = new Thread(() -> {
            try {
                while (true) {
                    Thread.sleep(PERIOD_MS);
                    report(false);
                }
            } catch (InterruptedException done) {
                // closed
            }
        }, "staging progress " + what);
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * @param totalImages images expected (0: unknown)
     * @param totalBytes  bytes expected (0: unknown)
     */
    static StagingProgress start(JavaSparkContext jsc, String what, long totalImages, long totalBytes, PrintStream log) {
        return new StagingProgress(jsc, what, totalImages, totalBytes, log);
    }

    /** Seconds since start. */
    double seconds() {
        return (System.nanoTime() - start) / 1e9;
    }

    private void report(boolean last) {
        long n = images.value(), b = bytes.value();
        if (!last) {
            for (long[] v : running.values()) {
                n += v[0];
                b += v[1];
            }
        }
        double s = seconds();
        StringBuilder m = new StringBuilder(String.format(Locale.ROOT, "%s: %d%s images, %.1f%s MB read", what, n,
                totalImages > 0 ? " of " + totalImages : "", b / 1e6, totalBytes > 0 ? String.format(Locale.ROOT, " of %.1f", totalBytes / 1e6) : ""));
        m.append(String.format(Locale.ROOT, " in %.1f s (%.1f MB/s, %.0f images/s)", s, b / 1e6 / Math.max(s, 1e-9), n / Math.max(s, 1e-9)));
        if (!last) {
            double frac = totalBytes > 0 ? (double) b / totalBytes : totalImages > 0 ? (double) n / totalImages : 0;
            if (frac > 0 && frac < 1) m.append(String.format(Locale.ROOT, ", %.0f%%, ETA %.0f s", 100 * frac, s * (1 - frac) / frac));
        }
        synchronized (log) {
            log.println(m);
        }
    }

    @Override
    public void close() {
        thread.interrupt();
        jsc.sc().removeSparkListener(listener);
        report(true);
    }
}
