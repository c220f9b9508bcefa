package org.addernet.cli;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.addernet.engine.Params;
import org.addernet.engine.ThreadPool;
import org.addernet.kernels.CompilerDirectives;
import org.addernet.kernels.ConvEngine;
import org.addernet.kernels.ConvGeometry;
import org.addernet.kernels.OutputMap;
import org.addernet.layers.PassTimes;

/**
 * {@code bench-step --profile}: a {@link ConvEngine} that times every call of the engine it wraps, per layer, and
 * the table it prints. A layer is known by its filter offset in the model's flat parameters (unique per layer,
 * and the same in forward and backward), so its name comes from {@link Params}. Everything a step does outside
 * these calls (BatchNorm, ReLU, pooling, residual sums, loss, data copies) is the step's wall time minus the kernel
 * time; the optimizer is timed by the caller. Percentages are of {@link #adderPeak}, measured in the same JVM.
 */
final class LayerProfile implements ConvEngine {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> SI = IntVector.SPECIES_PREFERRED;
    /** Receivers of the peak loop's ops come from these constants, so they have their exact class (see VectorColumnKernels). */
    private static final FloatVector ZERO = FloatVector.zero(S), ONE = ZERO.broadcast(1f);
    private static final IntVector ABS_BITS = IntVector.broadcast(SI, 0x7fffffff);
    /**
     * How the peak loop writes {@code acc += |b - x|}: the fastest of the same-bits formulations measured (PortBench,
     * commit f7d6275, 3 JVMs: median 42-45 G-ops per CPU-second against 40 for sub/abs/add; with {@code .abs()}, whose
     * mask is a memory operand, and with the subtract or the accumulate as an FMA, all within noise of each other),
     * so the profile's % is of the best this arithmetic reached. The forward kernels still use {@code .abs()}: the
     * int form pushed their 2 x 4 block over C2's inlining budget (VectorColumnKernels, "Sums of the adder forward").
     */
    static final String PEAK_FORM = "vsubps + vpandd (|d| on the bits) + vfmadd (1 * |d| + acc)";

    /** Accumulated time of one layer's calls. */
    private static final class Times {
        final boolean adder;
        final ConvGeometry g;
        long forwardNs, backwardNs;
        /** Backward passes counted as 1 per gradient computed (input and/or filter). */
        int forwards, backwardPasses;

        Times(boolean adder, ConvGeometry g) {
            this.adder = adder;
            this.g = g;
        }
    }

    private final ConvEngine inner;
    private final Map<Integer, Times> layers = new LinkedHashMap<>();
    private boolean recording;

    LayerProfile(ConvEngine inner) {
        this.inner = inner;
    }

    /** Starts (or stops) accumulating; calls made while not recording (warm-up steps) are not counted. */
    void record(boolean on) {
        recording = on;
    }

    private Times times(int wOff, boolean adder, ConvGeometry g) {
        return layers.computeIfAbsent(wOff, k -> new Times(adder, g));
    }

    private void forwardDone(int wOff, boolean adder, ConvGeometry g, long t0) {
        if (!recording) return;
        Times t = times(wOff, adder, g);
        t.forwardNs += System.nanoTime() - t0;
        t.forwards++;
    }

    private void backwardDone(int wOff, boolean adder, ConvGeometry g, long t0, float[] dx, float[] dw) {
        if (!recording) return;
        Times t = times(wOff, adder, g);
        t.backwardNs += System.nanoTime() - t0;
        t.backwardPasses += (dx != null ? 1 : 0) + (dw != null ? 1 : 0);
    }

    @Override
    public void adderForward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y) {
        long t0 = System.nanoTime();
        inner.adderForward(g, x, w, wOff, y);
        forwardDone(wOff, true, g, t0);
    }

    @Override
    public void adderForward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y, OutputMap map) {
        long t0 = System.nanoTime();
        inner.adderForward(g, x, w, wOff, y, map);
        forwardDone(wOff, true, g, t0);
    }

    @Override
    public void convForward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y, OutputMap map) {
        long t0 = System.nanoTime();
        inner.convForward(g, x, w, wOff, y, map);
        forwardDone(wOff, false, g, t0);
    }

    @Override
    public void adderBackward(ConvGeometry g, float[] x, float[] w, int wOff, float[] dy, float[] dx, float[] dw, int dwOff) {
        long t0 = System.nanoTime();
        inner.adderBackward(g, x, w, wOff, dy, dx, dw, dwOff);
        backwardDone(wOff, true, g, t0, dx, dw);
    }

    @Override
    public void convForward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y) {
        long t0 = System.nanoTime();
        inner.convForward(g, x, w, wOff, y);
        forwardDone(wOff, false, g, t0);
    }

    @Override
    public void convBackward(ConvGeometry g, float[] x, float[] w, int wOff, float[] dy, float[] dx, float[] dw, int dwOff) {
        long t0 = System.nanoTime();
        inner.convBackward(g, x, w, wOff, dy, dx, dw, dwOff);
        backwardDone(wOff, false, g, t0, dx, dw);
    }

    @Override
    public String kernelName() {
        return inner.kernelName();
    }

    /** Forgets what was recorded (the next batch size of {@code bench-eval --profile} starts from zero). */
    void reset() {
        layers.clear();
        PassTimes.reset();
    }

    /** Total kernel seconds recorded. */
    double kernelSeconds() {
        long ns = 0;
        for (Times t : layers.values()) ns += t.forwardNs + t.backwardNs;
        return ns / 1e9;
    }

    /**
     * Prints one row per layer (averages per step over the recorded steps {@code firstStep..lastStep}, 1-based), then the totals: kernels,
     * optimizer, and the rest of the step. {@code peak} is the adder accumulate peak in G-ops/s; a multiply layer's
     * percentage is of the same number (an FMA does one multiply-add where the adder needs sub, abs and add).
     */
    void print(PrintStream out, Params p, int firstStep, int lastStep, double stepSeconds, double optimizerSeconds, double peak) {
        int steps = lastStep - firstStep + 1;
        Map<Integer, String> names = new LinkedHashMap<>();
        for (Params.View v : p.params()) names.put(v.offset(), v.name());
        out.printf(Locale.ROOT, "profile over steps %d-%d (averages per step); peak |a-b| accumulate measured now: %.1f G-ops/s (%s)%n",
                firstStep, lastStep, peak, PEAK_FORM);
        // A layer whose input is all >= +0 (a ReLU's) runs the 2-op forward (2 max(w, x) - w - x): above this peak.
        out.println("(an adder forward on inputs >= +0 runs 2 ops per term, not this loop's 3: its fwd % may pass 100)");
        out.printf(Locale.ROOT, "%-34s %-5s %-26s %9s %9s %8s %8s %6s %6s%n", "layer", "kind", "geometry n,c,h,w,o,k,s,p",
                "fwd ms", "bwd ms", "fwd G/s", "bwd G/s", "fwd %", "bwd %");
        double kernels = 0;
        for (Map.Entry<Integer, Times> e : layers.entrySet()) {
            Times t = e.getValue();
            double f = t.forwardNs / 1e6 / steps, b = t.backwardNs / 1e6 / steps;
            kernels += f + b;
            double ops = t.g.ops();
            // Forward: one pass of ops; backward: one pass per gradient (input and filter; a first layer has no input gradient).
            double fg = f > 0 ? ops * t.forwards / steps / (f * 1e6) : 0;
            double bg = b > 0 ? ops * t.backwardPasses / steps / (b * 1e6) : 0;
            out.printf(Locale.ROOT, "%-34s %-5s %-26s %9.2f %9.2f %8.1f %8.1f %5.0f%% %5.0f%%%n", names.getOrDefault(e.getKey(), "@" + e.getKey()),
                    t.adder ? "adder" : "conv", t.g, f, b, fg, bg, 100 * fg / peak, 100 * bg / peak);
        }
        double step = stepSeconds * 1e3 / steps, opt = optimizerSeconds * 1e3 / steps;
        out.printf(Locale.ROOT, "step %.1f ms = kernels %.1f ms (%.0f%%) + optimizer %.1f ms (%.0f%%) + other (BN, ReLU, pooling, residual, loss) %.1f ms (%.0f%%)%n",
                step, kernels, 100 * kernels / step, opt, 100 * opt / step, step - kernels - opt, 100 * (step - kernels - opt) / step);
        // The other part by kind, as the layers timed their own passes (PassTimes); the rest is the conv biases,
        // zeroing the gradients, buffer bookkeeping and thread hand-offs outside the timed calls.
        double other = step - kernels - opt, timed = 0;
        StringBuilder sb = new StringBuilder("  other =");
        for (PassTimes.Kind k : PassTimes.Kind.values()) {
            double ms = PassTimes.nanos(k) / 1e6 / steps;
            timed += ms;
            sb.append(String.format(Locale.ROOT, " %s %.1f ms +", k.name().toLowerCase(Locale.ROOT).replace('_', ' '), ms));
        }
        out.println(sb.append(String.format(Locale.ROOT, " rest %.1f ms", other - timed)));
    }

    /**
     * The machine's ceiling for the adder's inner operation {@code acc += |x - w|} on all threads of {@code pool}, in
     * G-ops/s (one op = one lane): 8 independent accumulators (more than the add latency needs), 4 broadcast filter
     * values held in registers against 2 input vectors loaded from an L1-resident array, the register block of the
     * real kernels without their stores, in the fastest same-bits form measured ({@link #PEAK_FORM}). Measures rounds
     * of about {@code millis} ms until a round is no more than 3%
     * faster than the one before and the loop runs compiled (it is interpreted until C2 has compiled it, which after a model's steps
     * can take seconds: a fixed warm-up measured 0.0 G-ops/s), at most {@link #PEAK_MAX_SECONDS}; the last round counts.
     */
    static double adderPeak(ThreadPool pool, long millis) {
        if (!PeakDirective.INSTALLED) System.err.println("profile: could not keep C1 from the peak loop; the peak may be low");
        long deadline = System.nanoTime() + PEAK_MAX_SECONDS * 1_000_000_000L;
        double prev, rate = peakRound(pool, millis);
        do {
            prev = rate;
            rate = peakRound(pool, millis);
        } while ((rate > 1.03 * prev || rate < MIN_COMPILED_RATE * pool.threads()) && System.nanoTime() < deadline);
        return rate;
    }

    /**
     * G-ops/s per thread below which the peak loop is still interpreted (compiled it runs at tens of G-ops/s per
     * core, interpreted at a few thousandths): two such rounds agree, but are no peak.
     */
    static final double MIN_COMPILED_RATE = 1;
    /** Upper bound of {@link #adderPeak}'s warm-up. */
    static final long PEAK_MAX_SECONDS = 60;

    /** One round of the peak loop on every thread for about {@code millis} ms: G-ops/s summed over the threads. */
    private static double peakRound(ThreadPool pool, long millis) {
        int threads = pool.threads();
        long[] ops = new long[threads];
        float[][] bufs = new float[threads][1024];
        for (float[] b : bufs) for (int i = 0; i < b.length; i++) b[i] = i * 0.001f;
        float[] sink = new float[threads];
        long[] elapsed = new long[threads];
        long budget = millis * 1_000_000L;
        pool.parallelFor(threads, (t, from, to) -> {
            long t0 = System.nanoTime(), n = 0;
            float acc = 0;
            while (System.nanoTime() - t0 < budget) {
                // Short calls (interpreted, the Vector API boxes every vector and runs ~1000x slower).
                acc += peakLoop(bufs[t], 50);
                n += 50L * 8 * S.length() * (bufs[t].length / (2 * S.length()));
            }
            ops[t] = n;
            elapsed[t] = System.nanoTime() - t0;
            sink[t] = acc;
        });
        double total = 0;
        for (int t = 0; t < threads; t++) total += ops[t] / (elapsed[t] / 1e9);
        if (Float.isNaN(sink[0])) throw new IllegalStateException(); // keeps the loop's result alive
        return total / 1e9;
    }

    /**
     * Keeps C1 away from {@link #peakLoop}, as {@code VectorColumnKernels} does for the kernels and for the same
     * reason: the peak runs after the training steps, when C2's queue can be long, and C1's tier-2 code of a
     * Vector API loop boxes every vector and is never profiled, so never reaches C2 (the loop measured 0.0 G-ops/s
     * that way). Interpreted (profiled) until C2 compiles it, instead. Installed once (a lazy holder), when the peak first runs.
     */
    private static final class PeakDirective {
        static final boolean INSTALLED = excludeFromC1(LayerProfile.class.getName().replace('.', '/') + ".peakLoop");
    }

    /** Adds a compiler directive excluding the methods matching {@code pattern} from C1; false if it could not. */
    private static boolean excludeFromC1(String pattern) {
        return CompilerDirectives.add("[{ match: [\"" + pattern + "\"], c1: { Exclude: true } }]");
    }

    private static float peakLoop(float[] x, int reps) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        int step = 2 * S.length(), n = reps * (x.length / step);
        for (int j = 0; j < n; j++) {
            int i = (j & 31) * step;
            FloatVector x0 = FloatVector.fromArray(S, x, i), x1 = FloatVector.fromArray(S, x, i + S.length());
            FloatVector b = ZERO.broadcast(x[j & 15]);
            a0 = ONE.fma(ABS_BITS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats(), a0);
            a1 = ONE.fma(ABS_BITS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats(), a1);
            b = ZERO.broadcast(x[(j & 15) + 16]);
            a2 = ONE.fma(ABS_BITS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats(), a2);
            a3 = ONE.fma(ABS_BITS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats(), a3);
            b = ZERO.broadcast(x[(j & 15) + 32]);
            a4 = ONE.fma(ABS_BITS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats(), a4);
            a5 = ONE.fma(ABS_BITS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats(), a5);
            b = ZERO.broadcast(x[(j & 15) + 48]);
            a6 = ONE.fma(ABS_BITS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats(), a6);
            a7 = ONE.fma(ABS_BITS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats(), a7);
        }
        return ZERO.add(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).reduceLanes(VectorOperators.ADD);
    }
}
