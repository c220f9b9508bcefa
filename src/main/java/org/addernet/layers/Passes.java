package org.addernet.layers;

import org.addernet.engine.ThreadPool;
import org.addernet.kernels.ConvEngines;

/**
 * The passes over activations outside the convolution kernels: BatchNorm's per-channel sums, normalization and
 * input gradient, the ReLU and its mask, the residual sum. One implementation, {@link ScalarPasses}: plain loops
 * that C2's superword pass vectorizes itself where it can (the elementwise passes: float arithmetic, one index for
 * every array), so that no class outside the kernels touches {@code jdk.incubator.vector}. A Vector API form of
 * these passes made the adder kernels' speed vary between cold JVMs (C2 profile pollution, docs/DESIGN-NOTES.md).
 *
 * <p>Layout: {@code [off, off + len)} is one channel plane of one sample (NCHW); a channel's statistics are the sum
 * of its planes in sample order. <b>Eight virtual lanes</b>: a per-channel sum is kept in {@code LANES} = 8 double
 * partial sums, element {@code j} of a plane going to lane {@code j % 8} (summed in float over runs of {@link #RUN}
 * values of the plane, each run's partial then added in double), planes in sample order; the lanes are added at the
 * end in the fixed order {@link #total}. The order depends neither on the thread count (a channel is
 * one task) nor on the vector width (the sums are scalar code: JDK 17's C2 vectorizes no reduction whose array
 * offsets differ, nor a float-to-double conversion). One running sum is a chain of dependent adds, ~2x slower than 8
 * independent ones. Elementwise passes compute every value with the same float operations whether
 * C2 vectorizes the loop or not (no fma: Java never contracts), so splitting or vectorizing them never changes a bit.
 */
abstract class Passes {
    /** Partial sums per channel statistic (see the class comment). */
    static final int LANES = 8;
    /**
     * Values of a plane summed in float, per lane, before they go into the double lanes (32 per lane): scalar float
     * adds, which run at about the speed of a streaming read, where a double lane per value cost 0.7-1.8 ns per value
     * (conversions and double adds: {@code PassBench}); a run's float error (~32 roundings of values of one sign or of
     * small deviations) is far below what the float activations carry.
     */
    static final int RUN = 256;
    /** Elementwise passes over fewer values than this run on the calling thread: a hand-off costs more. */
    static final int PARALLEL_MIN = 1 << 15;
    /** Values per task of a parallel elementwise pass. */
    static final int BLOCK = 1 << 13;

    private static final Passes INSTANCE = new ScalarPasses();

    /** The implementation for this JVM. */
    static Passes get() {
        return INSTANCE;
    }

    abstract String name();

    /**
     * A plane's first two moments about {@code shift}: {@code d = x[off + j] - shift} (float), {@code lanes1[j % 8] += d},
     * {@code lanes2[j % 8] += d * d}, where each run of {@link #RUN} values (from the plane's start) is summed in float
     * per lane, from 0, and each run's 8 + 8 partials are then added to the double lanes; the last {@code len % 8}
     * values go to their double lanes one by one ({@code d * d} exact in double).
     */
    abstract void moments(float[] x, int off, int len, float shift, double[] lanes1, double[] lanes2);

    /**
     * {@code y = ((x - meanHi) - meanLo) * scale + beta} in float, then {@code Math.max(y, 0f)} if {@code relu};
     * {@code y} may be {@code x}. The mean comes as two floats, {@code meanHi = (float) mean} and
     * {@code meanLo = (float) (mean - meanHi)}: adder outputs are large negative values of small spread, and
     * {@code x - meanHi} is exact there (Sterbenz), so the deviation keeps the digits the double form kept.
     */
    abstract void normalize(float[] x, float[] y, int off, int len, float meanHi, float meanLo, float scale, float beta, boolean relu);

    /**
     * BN backward's sums: {@code g = dy} (with {@code mask != null}: {@code mask > 0 ? dy : 0}, the ReLU's gradient,
     * written to {@code out}: {@code dy} itself for BatchNorm + ReLU, the shortcut's copy for a residual block's last
     * BatchNorm); {@code lanesG[j % 8] += g}, {@code lanesGD[j % 8] += g * (x - mean)}, one value at a time in double
     * (float runs as in {@link #moments} measured no faster here: {@code PassBench}).
     */
    abstract void gradientSums(float[] x, float[] dy, float[] mask, float[] out, int off, int len, double mean, double[] lanesG, double[] lanesGD);

    /**
     * {@code dx = gInv * ((g - k1) - ((x - meanHi) - meanLo) * k2)} in float ({@code dx} may be {@code g}: in place;
     * the mean split as in {@link #normalize}).
     */
    abstract void inputGradient(float[] x, float[] g, float[] dx, int off, int len, float meanHi, float meanLo, float gInv, float k1, float k2);

    /** {@link #inputGradient} in place on {@code dy}. */
    final void inputGradient(float[] x, float[] dy, int off, int len, float meanHi, float meanLo, float gInv, float k1, float k2) {
        inputGradient(x, dy, dy, off, len, meanHi, meanLo, gInv, k1, k2);
    }

    /**
     * {@code out = max(y + s, 0)}, {@code y} the normalization of {@link #normalize} without its ReLU: a residual
     * block's last BatchNorm, the shortcut {@code s} and the block's ReLU in one pass, the same float operations (so
     * the same bits) as {@code normalize} then {@link #addRelu}, without writing and re-reading {@code y}.
     */
    final void normalizeAddRelu(float[] x, float[] s, float[] out, int off, int len, float meanHi, float meanLo, float scale, float beta) {
        int end = off + len;
        for (int i = off; i < end; i++) out[i] = Math.max((((x[i] - meanHi) - meanLo) * scale + beta) + s[i], 0f);
    }

    /** ReLU's gradient {@code dy = y > 0 ? dy : 0} in place on {@code [from, to)}, also written to {@code copy} if not null. */
    abstract void reluGradient(float[] y, float[] dy, float[] copy, int from, int to);

    /** {@code y = max(x, 0)} (Java's {@code Math.max}: NaN stays NaN). C2 vectorizes this loop itself. */
    final void relu(float[] x, float[] y, int from, int to) {
        for (int i = from; i < to; i++) y[i] = Math.max(x[i], 0f);
    }

    /** {@code out = max(a + b, 0)}: the residual sum and its ReLU in one pass (vectorized by C2). */
    final void addRelu(float[] a, float[] b, float[] out, int from, int to) {
        for (int i = from; i < to; i++) out[i] = Math.max(a[i] + b[i], 0f);
    }

    /** {@code acc += b} (vectorized by C2). */
    final void addInto(float[] acc, float[] b, int from, int to) {
        for (int i = from; i < to; i++) acc[i] += b[i];
    }

    /** The lanes added in a fixed order, the same for every implementation. */
    static double total(double[] lanes) {
        return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    }

    /** Body of an elementwise pass over the index range {@code [from, to)}. */
    @FunctionalInterface
    interface Range {
        void run(int from, int to);
    }

    /**
     * Runs {@code body} over {@code tasks} units (channels, planes), split over the pool's threads, or on the calling
     * thread when the pass is small ({@code values < PARALLEL_MIN}: batch-1 inference, where a hand-off costs more
     * than the pass) or there is one thread. A unit is one task either way, so the results do not depend on it.
     */
    static void split(ThreadPool pool, int tasks, long values, Range body) {
        if (pool == null || pool.threads() == 1 || values < PARALLEL_MIN) body.run(0, tasks);
        else pool.parallelFor(tasks, (t, from, to) -> body.run(from, to));
    }

    /**
     * Runs an elementwise pass over {@code [0, size)}: on the calling thread below {@link #PARALLEL_MIN} values (or
     * without a pool), else in blocks of {@link #BLOCK} split over the threads. Every value is computed alone, so the
     * split never changes a bit.
     */
    static void forEach(ThreadPool pool, int size, Range body) {
        if (pool == null || pool.threads() == 1 || size < PARALLEL_MIN) {
            body.run(0, size);
            return;
        }
        int tasks = (size + BLOCK - 1) / BLOCK;
        pool.parallelFor(tasks, (t, from, to) -> body.run(from * BLOCK, Math.min(size, to * BLOCK)));
    }
}
