package org.addernet.layers;

/**
 * Wall time spent in the layers' own passes, by kind, for {@code bench-step --profile} (which times the kernels
 * itself): what the "other" part of a training step is made of. Off unless a benchmark turns it on; then only
 * one model may run in the JVM (the sums are plain static counters, written by the thread that calls the layers).
 */
public final class PassTimes {
    /** What a pass belongs to. BatchNorm includes its fused ReLU; the residual kind is the sum, its ReLU and mask. */
    public enum Kind { BATCH_NORM, RELU, RESIDUAL, POOLING, LOSS }

    private static volatile boolean on;
    private static final long[] NANOS = new long[Kind.values().length];

    private PassTimes() {}

    /** Starts or stops recording (the counters keep their sums). */
    public static void record(boolean record) {
        on = record;
    }

    public static void reset() {
        java.util.Arrays.fill(NANOS, 0);
    }

    /** Nanoseconds recorded for {@code kind}. */
    public static long nanos(Kind kind) {
        return NANOS[kind.ordinal()];
    }

    /** A start time, or 0 when not recording. */
    static long start() {
        return on ? System.nanoTime() : 0;
    }

    static void done(Kind kind, long start) {
        if (start != 0) NANOS[kind.ordinal()] += System.nanoTime() - start;
    }
}
