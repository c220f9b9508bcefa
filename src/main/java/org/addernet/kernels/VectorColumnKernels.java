package org.addernet.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The {@link ColumnKernels} contracts with the Java Vector API; the only class of the engine that references
 * {@code jdk.incubator.vector}, loaded reflectively by {@link ConvEngines} only when that module is present.
 *
 * <p>Layouts as in {@link ColumnKernels}. Every kernel is vectorized over the column index p with a filter
 * value broadcast, because vectorizing over k needs a horizontal sum per output (measured ~23 vs ~39
 * G-ops/s). |a - b| is written {@code sub(...).abs()} and the gradient's clamp with integer ops on the float
 * bits: a float {@code min}/{@code max} with Java semantics is several instructions. Horizontal sums go through
 * a scratch array in lane order instead of {@code reduceLanes}, whose float order is unspecified (interpreted
 * and compiled code could differ, and results must be bit-reproducible).
 *
 * <p>How C2 compiles these methods must not depend on what the JVM ran before (it did: ResNet-20 training ran
 * 4-10x slower cold than after a warm-up, see docs/BENCHMARKS.md). Three rules:
 * <ul>
 *   <li>No vector is ever passed to a helper method: a vector escaping into a call that is not inlined gets
 *       boxed, which slowed the forward kernel 100-fold. Hence the repetitive code.</li>
 *   <li>Every vector that is the receiver of an op (or of {@code intoArray}) has the exact species class
 *       ({@code Float512Vector}) without any profile-based speculation: a constant ({@link #ZERO}, ...) or the
 *       result of an op on such a receiver (the species classes cast their results). Loads, broadcasts of the
 *       static API and loop-carried accumulators only appear as arguments. Otherwise C2 needs a class-check
 *       uncommon trap to devirtualize each op, and it stops emitting those once the methods it inlines have
 *       recorded {@code PerMethodTrapLimit} (100) class-check traps in total: every op inlines the JDK's
 *       {@code VectorOperators.opKind}, whose checkcast deoptimizes a few times whenever the JDK's own
 *       {@code lanewise} was compiled standalone with a one-operator profile (e.g. the conv forward's adds ran
 *       before the adder's subs), so 4 traps x 48 inlined ops put a whole kernel over the limit. Then an
 *       accumulator's exact class is unknown, stores and ops fall back to boxed calls, and the kernel ran ~10x
 *       slower for the rest of the run. The identities used to get exact receivers are bit for bit: -0 + v = v,
 *       1 * s + t = s + t in an fma, |b - x| = |x - b|, d * c + a = c * d + a, and int and/or/min commute.
 *       (Followed by the adder forward, input- and filter-gradient kernels. The multiply and conv filter-gradient
 *       blocks inline 16 ops each, under the limit while opKind holds at most 6 traps, and are unchanged; their
 *       result stores do not all intrinsify (-XX:+PrintInlining), which the adder filter gradient's did not either
 *       before it followed the rule, see afgrad4x2.)</li>
 *   <li>C1 never compiles this class ({@link #C1_EXCLUDED}, a compiler directive added at class load): C1
 *       force-inlines the Vector API without intrinsics, and its tier-3 compile of a block of 8 sums (~60 ops)
 *       fails ("out of virtual registers"), which left such a method in unprofiled tier-2 code, boxed, for the
 *       whole run whenever C2's queue was long when it got hot. With the directive the input gradient runs 4 rows
 *       x 2 vectors (8 sums); without it, 4 x 1 as before. The
 *       directive also makes C2's compiles of this class blocking, and conf/jvm-options.txt scales C2's thresholds
 *       for it to 0.02 (0.1 for the rest of org.addernet), so the kernels do not run interpreted into the second and third training steps.</li>
 *   <li>Blocks were small before that (forward 2 x 4 vectors with 2 x 2 remainders, input gradient 4 rows x 1
 *       vector, ~30-45 ops per method): with
 *       ~47 ops the trap-poisoned compile (whose checks cost more nodes) crossed C2's node-count inlining cutoff,
 *       the last calls were inlined late and a store was left boxed; and C1's tier-3 compile of a 4 x 4 block
 *       failed ("out of virtual registers") as soon as it grew by a few ops, which left the method stuck in
 *       tier 2. Measured: a 4 x 2 forward block ran at 53-60 G-ops/s in the kernel benchmark but slowed the
 *       ResNet-20 trainer from 265 to 178-199 images/s, so it is not used. Since {@code -XX:PerMethodTrapLimit=1000}
 *       (conf/jvm-options.txt) the 2 x 4 forward block (8 sums, 44 ops) is used; input-gradient blocks of 4 x 2
 *       and 8 x 1 vectors (8 sums, ~50 ops) still compiled to boxed code in the kernel benchmark.</li>
 * </ul>
 */
final class VectorColumnKernels implements ColumnKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> SI = IntVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /**
     * Floats of a cache tile (256 KB, a quarter of Zen 5's L2): the input gradient's K x O filter values and the
     * filter gradient's rows of x are walked in tiles of about this size.
     */
    static final int TILE_FLOATS = 1 << 16;
    /**
     * Whether this class's methods are kept away from C1 (see the class comment); the larger register blocks
     * (input gradient 4 rows x 2 vectors) are used only then.
     */
    static final boolean C1_EXCLUDED = excludeFromC1();
    /** Constant vectors of the exact species class, receivers of the ops: see the class comment. */
    private static final FloatVector ZERO = FloatVector.zero(S), ONE = ZERO.broadcast(1f), NEG_ZERO = ZERO.broadcast(-0f),
            NEG_ONE = ZERO.broadcast(-1f);
    private static final int SIGN_BIT = 0x80000000;
    private static final int ONE_BITS = 0x3f800000; // Float.floatToRawIntBits(1f)
    private static final IntVector SIGN = IntVector.broadcast(SI, SIGN_BIT), ONE_BITS_V = IntVector.broadcast(SI, ONE_BITS);
    /** Per-thread spill area for the lane-ordered horizontal sums: 16 accumulators, or two 4 x 2 blocks' 8. */
    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[24 * L]);

    @Override
    public String name() {
        return "vector-" + L;
    }

    @Override
    public int columnMultiple() {
        return Math.max(16, L);
    }

    // ---------------------------------------------------------------- adder forward: y = -sum_k |w - x|

    @Override
    public void adderForward(int o, int kk, int ld, float[] w, int wOff, float[] x, int[] xRow, float[] y) {
        // Column panel outer, output rows inner: the K x 4L (2L, L at the end) panel of x is reused by every row
        // block.
        int p = 0;
        for (; p + 4 * L <= ld; p += 4 * L) {
            int r = 0;
            for (; r + 2 <= o; r += 2) adder2x4(kk, ld, w, wOff + r * kk, x, xRow, p, y, r * ld + p);
            for (; r < o; r++) {
                adder1x2(kk, ld, w, wOff + r * kk, x, xRow, p, y, r * ld + p);
                adder1x2(kk, ld, w, wOff + r * kk, x, xRow, p + 2 * L, y, r * ld + p + 2 * L);
            }
        }
        for (; p + 2 * L <= ld; p += 2 * L) {
            int r = 0;
            for (; r + 2 <= o; r += 2) adder2x2(kk, ld, w, wOff + r * kk, x, xRow, p, y, r * ld + p);
            for (; r < o; r++) adder1x2(kk, ld, w, wOff + r * kk, x, xRow, p, y, r * ld + p);
        }
        for (; p < ld; p += L) {
            int r = 0;
            for (; r + 2 <= o; r += 2) adder2x1(kk, ld, w, wOff + r * kk, x, xRow, p, y, r * ld + p);
            for (; r < o; r++) adder1x1(kk, ld, w, wOff + r * kk, x, xRow, p, y, r * ld + p);
        }
    }

    /*
     * Sums of the adder forward: block sum s = |b - x| + s over the KB taps of a block, kept positive; the running
     * total is kept negative, t = -1 * s + t = t - s from t = +0 over the blocks, and stored as it is, y = t. That
     * is bit for bit the ColumnKernels contract (a block is 0 - |d1| - |d2| ..., the blocks added in order): every
     * term is >= +0, so negating commutes with the rounding, and +0 - (+0) gives the +0 that "0 - |d|" gives when
     * all terms are 0 (-0 + +0 = +0 in the fma too). |b - x| = |x - b| exactly. The total used to be kept positive
     * and stored as ZERO.sub(t): those 8 subs put adder2x4 over C2's inlining budget, so 3 of its 8 result stores
     * were left as non-intrinsified calls (an array allocation and a copy stub each, every call); with t kept
     * negative all 8 are intrinsified (-XX:+PrintInlining: no "store failed to inline (intrinsic)"), same bits
     * (KernelBitsTest's hashes unchanged). 1 thread, process CPU, 3 alternating cold JVMs (KernelCpuBench 1 0.5 fwd,
     * 2026-12-02): median B/A 1.14, 1.00, 1.00, 1.11, 1.07, 1.05, 1.09 on the 7 shapes of its table.
     *
     * Which FP pipes the subtract and the accumulate use does not matter on this Zen 5 (a one-off harness, PortBench in commit f7d6275,
     * removed after: it copied every block in each formulation; one thread,
     * thread CPU time, variants alternated, 2026-12-02 on a loaded machine, so ratios only): sub/abs/add,
     * fma(-1, x, b)/abs/add, sub/abs/fma(1, d, s) and half-and-half mixes of the 2 x 4 block were within noise of
     * each other, in the kernel and in the profile's peak loop. The pipes are not the bound: 16 independent FMA
     * chains or 16 add chains each run ~2 vector ops per cycle, 8 FMA + 8 add chains together only ~2.9 (not 4),
     * so the 3 vector ops of an accumulate cap it near one per cycle whatever their pipes; and the kernel (~25
     * G-ops per CPU-second) runs at about half the peak loop's rate (~45) for reasons other than its arithmetic
     * (the gap did not move with x in L1, without the 16-tap blocks, or without the Vector API's bounds checks).
     * |d| as an int and with 0x7fffffff held in a register (abs takes its mask from memory at every use) ran that
     * harness's copy of the 2 x 4 block 24-27 against 21-24, same bits, but in this class it pushes adder2x4 over
     * C2's inlining budget: all 8 result stores then fail to intrinsify (-XX:+PrintInlining "VectorSupport::store
     * failed to inline (intrinsic)"; 3 of 8 already do with the form below) and 3 of 13 cold JVMs ran the forward
     * at 7-10 G-ops per CPU-second: not used.
     */

    private static void adder2x2(int kk, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z, t01 = z, t10 = z, t11 = z;
        int w1 = w0 + kk;
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z, s01 = z, s10 = z, s11 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                FloatVector x0 = FloatVector.fromArray(S, x, xi);
                FloatVector x1 = FloatVector.fromArray(S, x, xi + L);
                FloatVector b = ZERO.broadcast(w[w0 + k]);
                s00 = b.sub(x0).abs().add(s00);
                s01 = b.sub(x1).abs().add(s01);
                b = ZERO.broadcast(w[w1 + k]);
                s10 = b.sub(x0).abs().add(s10);
                s11 = b.sub(x1).abs().add(s11);
            }
            t00 = NEG_ONE.fma(s00, t00);
            t01 = NEG_ONE.fma(s01, t01);
            t10 = NEG_ONE.fma(s10, t10);
            t11 = NEG_ONE.fma(s11, t11);
        }
        t00.intoArray(y, y0);
        t01.intoArray(y, y0 + L);
        t10.intoArray(y, y0 + ld);
        t11.intoArray(y, y0 + ld + L);
    }

    /*
     * The main forward block: 2 filter rows x 4 vectors of columns, 8 running sums (twice the 2 x 2's, which
     * hides the add latency and halves the broadcasts per sum), 2 loads of w and 4 of x per 8 accumulates.
     * b - x is written NEG_ONE.fma(x, b) = -1 * x + b: -x is exact, so it is the same single rounding as
     * b.sub(x), but it issues on the FMA pipes while the accumulating adds use the FP-add pipes (Zen 5 has two
     * of each; sub + add both on the add pipes cap |a - b| accumulates at one vector per cycle). Measured in
     * process CPU time under load (1 thread, 3 cold JVMs, 7 ResNet-20/-18 3x3 shapes): 2 x 4 beat the 2 x 2 on 20
     * of 21 shape-runs, ~15 % in the median; a 4 x 2 and a 3 x 2 block gained less; the fma-sub alone on the
     * 2 x 2 gained nothing measurable. A flat-loop variant that carries the block totals through y (the block
     * loop outside the kernel, branches on first/last block inside) compiled to boxed code (0.3 G-ops/s).
     */
    private static void adder2x4(int kk, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z, t01 = z, t02 = z, t03 = z, t10 = z, t11 = z, t12 = z, t13 = z;
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                FloatVector x0 = FloatVector.fromArray(S, x, xi);
                FloatVector x1 = FloatVector.fromArray(S, x, xi + 1 * L);
                FloatVector x2 = FloatVector.fromArray(S, x, xi + 2 * L);
                FloatVector x3 = FloatVector.fromArray(S, x, xi + 3 * L);
                FloatVector b = FloatVector.broadcast(S, w[w0 + k]);
                s00 = NEG_ONE.fma(x0, b).abs().add(s00);
                s01 = NEG_ONE.fma(x1, b).abs().add(s01);
                s02 = NEG_ONE.fma(x2, b).abs().add(s02);
                s03 = NEG_ONE.fma(x3, b).abs().add(s03);
                b = FloatVector.broadcast(S, w[w0 + 1 * kk + k]);
                s10 = NEG_ONE.fma(x0, b).abs().add(s10);
                s11 = NEG_ONE.fma(x1, b).abs().add(s11);
                s12 = NEG_ONE.fma(x2, b).abs().add(s12);
                s13 = NEG_ONE.fma(x3, b).abs().add(s13);
            }
            t00 = NEG_ONE.fma(s00, t00);
            t01 = NEG_ONE.fma(s01, t01);
            t02 = NEG_ONE.fma(s02, t02);
            t03 = NEG_ONE.fma(s03, t03);
            t10 = NEG_ONE.fma(s10, t10);
            t11 = NEG_ONE.fma(s11, t11);
            t12 = NEG_ONE.fma(s12, t12);
            t13 = NEG_ONE.fma(s13, t13);
        }
        t00.intoArray(y, y0);
        t01.intoArray(y, y0 + 1 * L);
        t02.intoArray(y, y0 + 2 * L);
        t03.intoArray(y, y0 + 3 * L);
        t10.intoArray(y, y0 + 1 * ld);
        t11.intoArray(y, y0 + 1 * ld + 1 * L);
        t12.intoArray(y, y0 + 1 * ld + 2 * L);
        t13.intoArray(y, y0 + 1 * ld + 3 * L);
    }

    private static void adder1x2(int kk, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z, t01 = z;
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z, s01 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                FloatVector x0 = FloatVector.fromArray(S, x, xi);
                FloatVector x1 = FloatVector.fromArray(S, x, xi + L);
                FloatVector b = ZERO.broadcast(w[w0 + k]);
                s00 = b.sub(x0).abs().add(s00);
                s01 = b.sub(x1).abs().add(s01);
            }
            t00 = NEG_ONE.fma(s00, t00);
            t01 = NEG_ONE.fma(s01, t01);
        }
        t00.intoArray(y, y0);
        t01.intoArray(y, y0 + L);
    }

    private static void adder2x1(int kk, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z, t10 = z;
        int w1 = w0 + kk;
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z, s10 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                FloatVector x0 = FloatVector.fromArray(S, x, xi);
                FloatVector b = ZERO.broadcast(w[w0 + k]);
                s00 = b.sub(x0).abs().add(s00);
                b = ZERO.broadcast(w[w1 + k]);
                s10 = b.sub(x0).abs().add(s10);
            }
            t00 = NEG_ONE.fma(s00, t00);
            t10 = NEG_ONE.fma(s10, t10);
        }
        t00.intoArray(y, y0);
        t10.intoArray(y, y0 + ld);
    }

    private static void adder1x1(int kk, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z;
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                FloatVector x0 = FloatVector.fromArray(S, x, xi);
                FloatVector b = ZERO.broadcast(w[w0 + k]);
                s00 = b.sub(x0).abs().add(s00);
            }
            t00 = NEG_ONE.fma(s00, t00);
        }
        t00.intoArray(y, y0);
    }

    // ---------------------------------------------------------------- adder forward, inputs >= +0: 2 ops per term

    /*
     * The ColumnKernels.adderForwardNonNegative contract: per block of KB taps M = sum max(w, x), X = sum x (per
     * column, from +0 in k order) and W = sum w (per row), d = fma(M, 2, (-W) - X) = 2M - W - X = sum |w - x|, and
     * t = t - d from +0 (as fma(-1, d, t), the same single rounding). max(w, x) is a signed int max on the float
     * bits: for x >= +0 (int >= 0) it is x when w < 0 or w = -0 (int < 0) and the larger of the two otherwise, as
     * floats order like their bits when both are >= +0. So a tap costs an int max and a float add where |w - x|
     * costs a subtract, an abs and an add; the per-block sums X (one pass per column panel, shared by all rows) and
     * -W (per call) and the block's 3 vector ops per sum are the overhead (~1/o and ~3/(2 KB)).
     */
    private static final FloatVector TWO = ZERO.broadcast(2f);
    /** Per-thread scratch: {@code -W} per row and block, then {@code X} per block and panel column. */
    private static final ThreadLocal<float[][]> MAX_SCRATCH = ThreadLocal.withInitial(() -> new float[2][0]);

    @Override
    public void adderForwardNonNegative(int o, int kk, int ld, float[] w, int wOff, float[] x, int[] xRow, float[] y) {
        int nb = (kk + KB - 1) / KB;
        float[][] sc = MAX_SCRATCH.get();
        if (sc[0].length < o * nb) sc[0] = new float[o * nb];
        if (sc[1].length < nb * 4 * L) sc[1] = new float[nb * 4 * L];
        float[] nw = sc[0], xs = sc[1];
        ScalarColumnKernels.negatedBlockSums(o, kk, w, wOff, nw);
        int p = 0;
        for (; p + 4 * L <= ld; p += 4 * L) {
            columnBlockSums(kk, x, xRow, p, 4, xs);
            int r = 0;
            for (; r + 2 <= o; r += 2) max2x4(kk, nb, ld, w, wOff + r * kk, x, xRow, p, xs, nw, r * nb, y, r * ld + p);
            for (; r < o; r++) {
                for (int j = 0; j < 4; j++) max1x1(kk, nb, w, wOff + r * kk, x, xRow, p + j * L, xs, j, 4, nw, r * nb, y, r * ld + p + j * L);
            }
        }
        for (; p < ld; p += L) {
            columnBlockSums(kk, x, xRow, p, 1, xs);
            for (int r = 0; r < o; r++) max1x1(kk, nb, w, wOff + r * kk, x, xRow, p, xs, 0, 1, nw, r * nb, y, r * ld + p);
        }
    }

    /** {@code xs[(b * v + j) * L ..]} = block b's sum of x over its taps, vector j of the v from column p. */
    private static void columnBlockSums(int kk, float[] x, int[] xRow, int p, int v, float[] xs) {
        FloatVector z = ZERO.broadcast(0f);
        for (int k0 = 0, b = 0; k0 < kk; k0 += KB, b++) {
            int k1 = Math.min(kk, k0 + KB);
            for (int j = 0; j < v; j++) {
                FloatVector a = z;
                for (int k = k0; k < k1; k++) a = FloatVector.fromArray(S, x, xRow[k] + p + j * L).add(a);
                a.intoArray(xs, (b * v + j) * L);
            }
        }
    }

    private static void max2x4(int kk, int nb, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] xs, float[] nw, int n0,
                               float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z, t01 = z, t02 = z, t03 = z, t10 = z, t11 = z, t12 = z, t13 = z;
        for (int k0 = 0, b = 0; k0 < kk; k0 += KB, b++) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                IntVector x0 = FloatVector.fromArray(S, x, xi).reinterpretAsInts();
                IntVector x1 = FloatVector.fromArray(S, x, xi + 1 * L).reinterpretAsInts();
                IntVector x2 = FloatVector.fromArray(S, x, xi + 2 * L).reinterpretAsInts();
                IntVector x3 = FloatVector.fromArray(S, x, xi + 3 * L).reinterpretAsInts();
                IntVector a = IntVector.broadcast(SI, Float.floatToRawIntBits(w[w0 + k]));
                s00 = x0.max(a).reinterpretAsFloats().add(s00);
                s01 = x1.max(a).reinterpretAsFloats().add(s01);
                s02 = x2.max(a).reinterpretAsFloats().add(s02);
                s03 = x3.max(a).reinterpretAsFloats().add(s03);
                a = IntVector.broadcast(SI, Float.floatToRawIntBits(w[w0 + kk + k]));
                s10 = x0.max(a).reinterpretAsFloats().add(s10);
                s11 = x1.max(a).reinterpretAsFloats().add(s11);
                s12 = x2.max(a).reinterpretAsFloats().add(s12);
                s13 = x3.max(a).reinterpretAsFloats().add(s13);
            }
            int xb = b * 4 * L;
            FloatVector c0 = FloatVector.fromArray(S, xs, xb), c1 = FloatVector.fromArray(S, xs, xb + L);
            FloatVector c2 = FloatVector.fromArray(S, xs, xb + 2 * L), c3 = FloatVector.fromArray(S, xs, xb + 3 * L);
            FloatVector v = FloatVector.broadcast(S, nw[n0 + b]);
            t00 = NEG_ONE.fma(s00.fma(TWO, v.sub(c0)), t00);
            t01 = NEG_ONE.fma(s01.fma(TWO, v.sub(c1)), t01);
            t02 = NEG_ONE.fma(s02.fma(TWO, v.sub(c2)), t02);
            t03 = NEG_ONE.fma(s03.fma(TWO, v.sub(c3)), t03);
            v = FloatVector.broadcast(S, nw[n0 + nb + b]);
            t10 = NEG_ONE.fma(s10.fma(TWO, v.sub(c0)), t10);
            t11 = NEG_ONE.fma(s11.fma(TWO, v.sub(c1)), t11);
            t12 = NEG_ONE.fma(s12.fma(TWO, v.sub(c2)), t12);
            t13 = NEG_ONE.fma(s13.fma(TWO, v.sub(c3)), t13);
        }
        t00.intoArray(y, y0);
        t01.intoArray(y, y0 + 1 * L);
        t02.intoArray(y, y0 + 2 * L);
        t03.intoArray(y, y0 + 3 * L);
        t10.intoArray(y, y0 + 1 * ld);
        t11.intoArray(y, y0 + 1 * ld + 1 * L);
        t12.intoArray(y, y0 + 1 * ld + 2 * L);
        t13.intoArray(y, y0 + 1 * ld + 3 * L);
    }

    /** One row, one vector of columns from p: its X is vector j of the v per block in {@code xs}. */
    private static void max1x1(int kk, int nb, float[] w, int w0, float[] x, int[] xRow, int p, float[] xs, int j, int v, float[] nw, int n0,
                               float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z;
        for (int k0 = 0, b = 0; k0 < kk; k0 += KB, b++) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z;
            for (int k = k0; k < k1; k++) {
                IntVector x0 = FloatVector.fromArray(S, x, xRow[k] + p).reinterpretAsInts();
                s00 = x0.max(IntVector.broadcast(SI, Float.floatToRawIntBits(w[w0 + k]))).reinterpretAsFloats().add(s00);
            }
            FloatVector c = FloatVector.broadcast(S, nw[n0 + b]).sub(FloatVector.fromArray(S, xs, (b * v + j) * L));
            t00 = NEG_ONE.fma(s00.fma(TWO, c), t00);
        }
        t00.intoArray(y, y0);
    }

    @Override
    public boolean nonNegativeFinite(float[] x, int from, int to) {
        // Non-negative finite floats are exactly the ints in [0, 0x7f800000): one unsigned compare per lane.
        IntVector inf = IntVector.broadcast(SI, 0x7f800000);
        int i = from;
        for (; i + L <= to; i += L) {
            IntVector b = FloatVector.fromArray(S, x, i).reinterpretAsInts();
            if (b.compare(jdk.incubator.vector.VectorOperators.UNSIGNED_GE, inf).anyTrue()) return false;
        }
        for (; i < to; i++) if (Integer.compareUnsigned(Float.floatToRawIntBits(x[i]), 0x7f800000) >= 0) return false;
        return true;
    }

    // ---------------------------------------------------------------- adder forward, one K-chunk: t += block sums

    @Override
    public void adderForwardChunk(int o, int kk, int ld, float[] w, int wOff, int wStride, float[] x, int[] xRow,
                                  float[] t) {
        // The same blocks and sums as adderForward (2 rows x 4 vectors, then remainders), but the running totals
        // come from t and go back to it, positive: the engine zeroes t first and stores y = 0 - t at the end.
        // A load of t passes through NEG_ZERO.add (-0 + v = v bit for bit) so that the loop-carried totals, receivers
        // of intoArray, have the exact species class (class comment).
        int p = 0;
        for (; p + 4 * L <= ld; p += 4 * L) {
            int r = 0;
            for (; r + 2 <= o; r += 2) chunk2x4(kk, ld, w, wOff + r * wStride, wStride, x, xRow, p, t, r * ld + p);
            for (; r < o; r++) {
                for (int q = p; q < p + 4 * L; q += L) chunk1x1(kk, w, wOff + r * wStride, x, xRow, q, t, r * ld + q);
            }
        }
        for (; p < ld; p += L) {
            int r = 0;
            for (; r + 2 <= o; r += 2) chunk2x1(kk, ld, w, wOff + r * wStride, wStride, x, xRow, p, t, r * ld + p);
            for (; r < o; r++) chunk1x1(kk, w, wOff + r * wStride, x, xRow, p, t, r * ld + p);
        }
    }

    private static void chunk2x4(int kk, int ld, float[] w, int w0, int ws, float[] x, int[] xRow, int p, float[] t,
                                 int t0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = NEG_ZERO.add(FloatVector.fromArray(S, t, t0)), t01 = NEG_ZERO.add(FloatVector.fromArray(S, t, t0 + L));
        FloatVector t02 = NEG_ZERO.add(FloatVector.fromArray(S, t, t0 + 2 * L)), t03 = NEG_ZERO.add(FloatVector.fromArray(S, t, t0 + 3 * L));
        FloatVector t10 = NEG_ZERO.add(FloatVector.fromArray(S, t, t0 + ld)), t11 = NEG_ZERO.add(FloatVector.fromArray(S, t, t0 + ld + L));
        FloatVector t12 = NEG_ZERO.add(FloatVector.fromArray(S, t, t0 + ld + 2 * L)), t13 = NEG_ZERO.add(FloatVector.fromArray(S, t, t0 + ld + 3 * L));
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                FloatVector x0 = FloatVector.fromArray(S, x, xi);
                FloatVector x1 = FloatVector.fromArray(S, x, xi + 1 * L);
                FloatVector x2 = FloatVector.fromArray(S, x, xi + 2 * L);
                FloatVector x3 = FloatVector.fromArray(S, x, xi + 3 * L);
                FloatVector b = FloatVector.broadcast(S, w[w0 + k]);
                s00 = NEG_ONE.fma(x0, b).abs().add(s00);
                s01 = NEG_ONE.fma(x1, b).abs().add(s01);
                s02 = NEG_ONE.fma(x2, b).abs().add(s02);
                s03 = NEG_ONE.fma(x3, b).abs().add(s03);
                b = FloatVector.broadcast(S, w[w0 + ws + k]);
                s10 = NEG_ONE.fma(x0, b).abs().add(s10);
                s11 = NEG_ONE.fma(x1, b).abs().add(s11);
                s12 = NEG_ONE.fma(x2, b).abs().add(s12);
                s13 = NEG_ONE.fma(x3, b).abs().add(s13);
            }
            t00 = ONE.fma(s00, t00);
            t01 = ONE.fma(s01, t01);
            t02 = ONE.fma(s02, t02);
            t03 = ONE.fma(s03, t03);
            t10 = ONE.fma(s10, t10);
            t11 = ONE.fma(s11, t11);
            t12 = ONE.fma(s12, t12);
            t13 = ONE.fma(s13, t13);
        }
        t00.intoArray(t, t0);
        t01.intoArray(t, t0 + 1 * L);
        t02.intoArray(t, t0 + 2 * L);
        t03.intoArray(t, t0 + 3 * L);
        t10.intoArray(t, t0 + ld);
        t11.intoArray(t, t0 + ld + 1 * L);
        t12.intoArray(t, t0 + ld + 2 * L);
        t13.intoArray(t, t0 + ld + 3 * L);
    }

    private static void chunk2x1(int kk, int ld, float[] w, int w0, int ws, float[] x, int[] xRow, int p, float[] t,
                                 int t0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = NEG_ZERO.add(FloatVector.fromArray(S, t, t0)), t10 = NEG_ZERO.add(FloatVector.fromArray(S, t, t0 + ld));
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z, s10 = z;
            for (int k = k0; k < k1; k++) {
                FloatVector x0 = FloatVector.fromArray(S, x, xRow[k] + p);
                FloatVector b = ZERO.broadcast(w[w0 + k]);
                s00 = b.sub(x0).abs().add(s00);
                b = ZERO.broadcast(w[w0 + ws + k]);
                s10 = b.sub(x0).abs().add(s10);
            }
            t00 = ONE.fma(s00, t00);
            t10 = ONE.fma(s10, t10);
        }
        t00.intoArray(t, t0);
        t10.intoArray(t, t0 + ld);
    }

    private static void chunk1x1(int kk, float[] w, int w0, float[] x, int[] xRow, int p, float[] t, int t0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = NEG_ZERO.add(FloatVector.fromArray(S, t, t0));
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z;
            for (int k = k0; k < k1; k++) {
                FloatVector x0 = FloatVector.fromArray(S, x, xRow[k] + p);
                FloatVector b = ZERO.broadcast(w[w0 + k]);
                s00 = b.sub(x0).abs().add(s00);
            }
            t00 = ONE.fma(s00, t00);
        }
        t00.intoArray(t, t0);
    }

    // ---------------------------------------------------------------- multiply: out = a . b (conv fwd, conv dx)

    @Override
    public void multiply(int rows, int inner, int ld, float[] a, int aOff, float[] b, int[] bRow, float[] out) {
        blocks(rows, inner, inner, ld, a, aOff, inner, b, bRow, out, false); // one block of all taps
    }

    @Override
    public void convForward(int rows, int kk, int ld, float[] w, int wOff, int ws, float[] x, int[] xRow, float[] out, boolean accumulate) {
        blocks(rows, kk, KB, ld, w, wOff, ws, x, xRow, out, accumulate);
    }

    /**
     * {@code out = sum over blocks of kb taps}, each block from +0, added in order after the first (or after out with
     * {@code accumulate}). Per column panel, block after block over all rows: the panel's outputs (rows x 4L floats,
     * 16 KB at 64 rows) and the block's x (kb x 4L) stay in L1 between blocks, where one multiply per block over all
     * columns had streamed the whole rows x ld output (MBs for a 224x224 stem) through memory twice per block.
     */
    private static void blocks(int rows, int kk, int kb, int ld, float[] w, int wOff, int ws, float[] x, int[] xRow, float[] out,
                               boolean accumulate) {
        int p = 0;
        for (; p + 4 * L <= ld; p += 4 * L) {
            for (int k0 = 0; k0 < kk; k0 += kb) {
                int k1 = Math.min(kk, k0 + kb);
                boolean add = accumulate || k0 > 0;
                int r = 0;
                for (; r + 4 <= rows; r += 4) mul4x4(k0, k1, ws, ld, w, wOff + r * ws, x, xRow, p, out, r * ld + p, add);
                for (; r < rows; r++) mul1x4(k0, k1, w, wOff + r * ws, x, xRow, p, out, r * ld + p, add);
            }
        }
        for (; p < ld; p += L) {
            for (int k0 = 0; k0 < kk; k0 += kb) {
                int k1 = Math.min(kk, k0 + kb);
                boolean add = accumulate || k0 > 0;
                int r = 0;
                for (; r + 4 <= rows; r += 4) mul4x1(k0, k1, ws, ld, w, wOff + r * ws, x, xRow, p, out, r * ld + p, add);
                for (; r < rows; r++) mul1x1(k0, k1, w, wOff + r * ws, x, xRow, p, out, r * ld + p, add);
            }
        }
    }

    /*
     * The multiply blocks: taps [k0, k1) of rows w0, w0 + ws, ... (w[w0 + k] is row 0's tap k) from +0 in k order;
     * {@code add}: y = y + sum (as ONE.fma(y, sum): 1 * y + s = y + s, one rounding, with an exact receiver, see the
     * class comment), else y = sum.
     */

    private static void mul4x4(int k0, int k1, int ws, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0,
                               boolean add) {
        FloatVector z = FloatVector.zero(S);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        FloatVector a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
        int w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws;
        for (int k = k0; k < k1; k++) {
            int xi = xRow[k] + p;
            FloatVector x0 = FloatVector.fromArray(S, x, xi);
            FloatVector x1 = FloatVector.fromArray(S, x, xi + L);
            FloatVector x2 = FloatVector.fromArray(S, x, xi + 2 * L);
            FloatVector x3 = FloatVector.fromArray(S, x, xi + 3 * L);
            FloatVector b = FloatVector.broadcast(S, w[w0 + k]);
            a00 = x0.fma(b, a00);
            a01 = x1.fma(b, a01);
            a02 = x2.fma(b, a02);
            a03 = x3.fma(b, a03);
            b = FloatVector.broadcast(S, w[w1 + k]);
            a10 = x0.fma(b, a10);
            a11 = x1.fma(b, a11);
            a12 = x2.fma(b, a12);
            a13 = x3.fma(b, a13);
            b = FloatVector.broadcast(S, w[w2 + k]);
            a20 = x0.fma(b, a20);
            a21 = x1.fma(b, a21);
            a22 = x2.fma(b, a22);
            a23 = x3.fma(b, a23);
            b = FloatVector.broadcast(S, w[w3 + k]);
            a30 = x0.fma(b, a30);
            a31 = x1.fma(b, a31);
            a32 = x2.fma(b, a32);
            a33 = x3.fma(b, a33);
        }
        if (add) {
            a00 = ONE.fma(FloatVector.fromArray(S, y, y0), a00);
            a01 = ONE.fma(FloatVector.fromArray(S, y, y0 + L), a01);
            a02 = ONE.fma(FloatVector.fromArray(S, y, y0 + 2 * L), a02);
            a03 = ONE.fma(FloatVector.fromArray(S, y, y0 + 3 * L), a03);
            a10 = ONE.fma(FloatVector.fromArray(S, y, y0 + ld), a10);
            a11 = ONE.fma(FloatVector.fromArray(S, y, y0 + ld + L), a11);
            a12 = ONE.fma(FloatVector.fromArray(S, y, y0 + ld + 2 * L), a12);
            a13 = ONE.fma(FloatVector.fromArray(S, y, y0 + ld + 3 * L), a13);
            a20 = ONE.fma(FloatVector.fromArray(S, y, y0 + 2 * ld), a20);
            a21 = ONE.fma(FloatVector.fromArray(S, y, y0 + 2 * ld + L), a21);
            a22 = ONE.fma(FloatVector.fromArray(S, y, y0 + 2 * ld + 2 * L), a22);
            a23 = ONE.fma(FloatVector.fromArray(S, y, y0 + 2 * ld + 3 * L), a23);
            a30 = ONE.fma(FloatVector.fromArray(S, y, y0 + 3 * ld), a30);
            a31 = ONE.fma(FloatVector.fromArray(S, y, y0 + 3 * ld + L), a31);
            a32 = ONE.fma(FloatVector.fromArray(S, y, y0 + 3 * ld + 2 * L), a32);
            a33 = ONE.fma(FloatVector.fromArray(S, y, y0 + 3 * ld + 3 * L), a33);
        }
        a00.intoArray(y, y0);
        a01.intoArray(y, y0 + L);
        a02.intoArray(y, y0 + 2 * L);
        a03.intoArray(y, y0 + 3 * L);
        a10.intoArray(y, y0 + ld);
        a11.intoArray(y, y0 + ld + L);
        a12.intoArray(y, y0 + ld + 2 * L);
        a13.intoArray(y, y0 + ld + 3 * L);
        a20.intoArray(y, y0 + 2 * ld);
        a21.intoArray(y, y0 + 2 * ld + L);
        a22.intoArray(y, y0 + 2 * ld + 2 * L);
        a23.intoArray(y, y0 + 2 * ld + 3 * L);
        a30.intoArray(y, y0 + 3 * ld);
        a31.intoArray(y, y0 + 3 * ld + L);
        a32.intoArray(y, y0 + 3 * ld + 2 * L);
        a33.intoArray(y, y0 + 3 * ld + 3 * L);
    }

    private static void mul1x4(int k0, int k1, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0, boolean add) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        for (int k = k0; k < k1; k++) {
            int xi = xRow[k] + p;
            FloatVector b = FloatVector.broadcast(S, w[w0 + k]);
            a0 = FloatVector.fromArray(S, x, xi).fma(b, a0);
            a1 = FloatVector.fromArray(S, x, xi + L).fma(b, a1);
            a2 = FloatVector.fromArray(S, x, xi + 2 * L).fma(b, a2);
            a3 = FloatVector.fromArray(S, x, xi + 3 * L).fma(b, a3);
        }
        if (add) {
            a0 = ONE.fma(FloatVector.fromArray(S, y, y0), a0);
            a1 = ONE.fma(FloatVector.fromArray(S, y, y0 + L), a1);
            a2 = ONE.fma(FloatVector.fromArray(S, y, y0 + 2 * L), a2);
            a3 = ONE.fma(FloatVector.fromArray(S, y, y0 + 3 * L), a3);
        }
        a0.intoArray(y, y0);
        a1.intoArray(y, y0 + L);
        a2.intoArray(y, y0 + 2 * L);
        a3.intoArray(y, y0 + 3 * L);
    }

    private static void mul4x1(int k0, int k1, int ws, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0,
                               boolean add) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        int w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws;
        for (int k = k0; k < k1; k++) {
            int xi = xRow[k] + p;
            FloatVector xv = FloatVector.fromArray(S, x, xi);
            a0 = xv.fma(FloatVector.broadcast(S, w[w0 + k]), a0);
            a1 = xv.fma(FloatVector.broadcast(S, w[w1 + k]), a1);
            a2 = xv.fma(FloatVector.broadcast(S, w[w2 + k]), a2);
            a3 = xv.fma(FloatVector.broadcast(S, w[w3 + k]), a3);
        }
        if (add) {
            a0 = ONE.fma(FloatVector.fromArray(S, y, y0), a0);
            a1 = ONE.fma(FloatVector.fromArray(S, y, y0 + ld), a1);
            a2 = ONE.fma(FloatVector.fromArray(S, y, y0 + 2 * ld), a2);
            a3 = ONE.fma(FloatVector.fromArray(S, y, y0 + 3 * ld), a3);
        }
        a0.intoArray(y, y0);
        a1.intoArray(y, y0 + ld);
        a2.intoArray(y, y0 + 2 * ld);
        a3.intoArray(y, y0 + 3 * ld);
    }

    private static void mul1x1(int k0, int k1, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0, boolean add) {
        FloatVector a = FloatVector.zero(S);
        for (int k = k0; k < k1; k++) {
            int xi = xRow[k] + p;
            a = FloatVector.fromArray(S, x, xi).fma(FloatVector.broadcast(S, w[w0 + k]), a);
        }
        if (add) a = ONE.fma(FloatVector.fromArray(S, y, y0), a);
        a.intoArray(y, y0);
    }

    // ---------------------------------------------------------------- adder input gradient

    @Override
    public void adderInputGrad(int o, int kk, int ld, float[] wt, int wtOff, float[] x, int[] xRow, float[] dy, float[] dx) {
        // k tiles whose K x O filter values stay in L2 while the column panels pass (ResNet-18's 512-channel
        // layer has 9 MB of them; the ResNet-20 layers fit in one tile); the O x 2L panel of dy is re-read per tile.
        int kt = C1_EXCLUDED ? Math.max(4, TILE_FLOATS / o / 4 * 4) : kk;
        for (int k0 = 0; k0 < kk; k0 += kt) {
            int k1 = Math.min(kk, k0 + kt);
            int p = 0;
            if (C1_EXCLUDED) {
                for (; p + 2 * L <= ld; p += 2 * L) {
                    int k = k0;
                    for (; k + 4 <= k1; k += 4) igrad4x2(o, ld, wt, wtOff, x, xRow, k, p, dy, dx);
                    for (; k + 2 <= k1; k += 2) {
                        igrad2x1(o, ld, wt, wtOff, x, xRow, k, p, dy, dx);
                        igrad2x1(o, ld, wt, wtOff, x, xRow, k, p + L, dy, dx);
                    }
                    for (; k < k1; k++) {
                        igrad1x1(o, ld, wt, wtOff, x, xRow, k, p, dy, dx);
                        igrad1x1(o, ld, wt, wtOff, x, xRow, k, p + L, dy, dx);
                    }
                }
            }
            // Column panel outer so the O x L panel of dy stays in L1 across the k blocks; the x values of a
            // block sit in registers while o runs.
            for (; p < ld; p += L) {
                int k = k0;
                for (; k + 4 <= k1; k += 4) igrad4x1(o, ld, wt, wtOff, x, xRow, k, p, dy, dx);
                for (; k + 2 <= k1; k += 2) igrad2x1(o, ld, wt, wtOff, x, xRow, k, p, dy, dx);
                for (; k < k1; k++) igrad1x1(o, ld, wt, wtOff, x, xRow, k, p, dy, dx);
            }
        }
    }

    /*
     * The clamped gradient's vectors are all receivers of exact class (see the class comment): the clamp c (int
     * ops applied to the constant SIGN, and/or/min being symmetric) is the fma's receiver, dy * c + a = c * dy + a,
     * and the accumulators pass through NEG_ZERO.add (-0 + v = v bit for bit) before they are stored. The dy loads
     * went through NEG_ZERO.add too, as the fma's receivers: two more vaddps per 8 sums in the 4 x 2 block, and C2
     * then kept NEG_ZERO and one accumulator on the stack (a load, fma and store per iteration of the r loop).
     *
     * clamp(d, -1, 1) on the float bits e of d = w - x, as a signed-int min with the bits of copysign(1, d):
     * for d >= 0 the bits order like the values, so min(e, bits(1)) = min(d, 1); for d < 0 (negative ints)
     * a larger magnitude is a larger int, so min(e, bits(-1)) = max(d, -1). Three int ops (and, or, vpminsd),
     * exact, and about twice as fast as FloatVector min/max with Java's NaN/-0 semantics or |d+1| - |d-1|.
     * The subtract stays a vsubps: as NEG_ONE.fma(x, b) (same bits, on the FMA pipes beside the accumulating fma)
     * the 4 x 2 block was slower in that harness (median 18.6-20.8 against 22.9-25.2 G-ops per CPU-second, 3 JVMs).
     */

    private static void igrad4x1(int o, int ld, float[] wt, int wo, float[] x, int[] xRow, int k, int p, float[] dy, float[] dx) {
        FloatVector x00 = FloatVector.fromArray(S, x, xRow[k] + p);
        FloatVector x10 = FloatVector.fromArray(S, x, xRow[k + 1] + p);
        FloatVector x20 = FloatVector.fromArray(S, x, xRow[k + 2] + p);
        FloatVector x30 = FloatVector.fromArray(S, x, xRow[k + 3] + p);
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a00 = z, a10 = z, a20 = z, a30 = z;
        int t0 = wo + k * o, t1 = t0 + o, t2 = t1 + o, t3 = t2 + o;
        for (int r = 0, di = p; r < o; r++, di += ld) {
            FloatVector d0 = FloatVector.fromArray(S, dy, di);
            IntVector e = ZERO.broadcast(wt[t0 + r]).sub(x00).reinterpretAsInts();
            a00 = SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats().fma(d0, a00);
            e = ZERO.broadcast(wt[t1 + r]).sub(x10).reinterpretAsInts();
            a10 = SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats().fma(d0, a10);
            e = ZERO.broadcast(wt[t2 + r]).sub(x20).reinterpretAsInts();
            a20 = SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats().fma(d0, a20);
            e = ZERO.broadcast(wt[t3 + r]).sub(x30).reinterpretAsInts();
            a30 = SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats().fma(d0, a30);
        }
        int o0 = k * ld + p;
        NEG_ZERO.add(a00).intoArray(dx, o0);
        NEG_ZERO.add(a10).intoArray(dx, o0 + ld);
        NEG_ZERO.add(a20).intoArray(dx, o0 + 2 * ld);
        NEG_ZERO.add(a30).intoArray(dx, o0 + 3 * ld);
    }

    private static void igrad4x2(int o, int ld, float[] wt, int wo, float[] x, int[] xRow, int k, int p, float[] dy, float[] dx) {
        int q0 = xRow[k] + p, q1 = xRow[k + 1] + p, q2 = xRow[k + 2] + p, q3 = xRow[k + 3] + p;
        FloatVector x00 = FloatVector.fromArray(S, x, q0), x01 = FloatVector.fromArray(S, x, q0 + L);
        FloatVector x10 = FloatVector.fromArray(S, x, q1), x11 = FloatVector.fromArray(S, x, q1 + L);
        FloatVector x20 = FloatVector.fromArray(S, x, q2), x21 = FloatVector.fromArray(S, x, q2 + L);
        FloatVector x30 = FloatVector.fromArray(S, x, q3), x31 = FloatVector.fromArray(S, x, q3 + L);
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a00 = z, a10 = z, a20 = z, a30 = z, a01 = z, a11 = z, a21 = z, a31 = z;
        int t0 = wo + k * o, t1 = t0 + o, t2 = t1 + o, t3 = t2 + o;
        for (int r = 0, di = p; r < o; r++, di += ld) {
            FloatVector d0 = FloatVector.fromArray(S, dy, di);
            FloatVector d1 = FloatVector.fromArray(S, dy, di + L);
            FloatVector b = ZERO.broadcast(wt[t0 + r]);
            IntVector e = b.sub(x00).reinterpretAsInts();
            a00 = SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats().fma(d0, a00);
            e = b.sub(x01).reinterpretAsInts();
            a01 = SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats().fma(d1, a01);
            b = ZERO.broadcast(wt[t1 + r]);
            e = b.sub(x10).reinterpretAsInts();
            a10 = SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats().fma(d0, a10);
            e = b.sub(x11).reinterpretAsInts();
            a11 = SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats().fma(d1, a11);
            b = ZERO.broadcast(wt[t2 + r]);
            e = b.sub(x20).reinterpretAsInts();
            a20 = SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats().fma(d0, a20);
            e = b.sub(x21).reinterpretAsInts();
            a21 = SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats().fma(d1, a21);
            b = ZERO.broadcast(wt[t3 + r]);
            e = b.sub(x30).reinterpretAsInts();
            a30 = SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats().fma(d0, a30);
            e = b.sub(x31).reinterpretAsInts();
            a31 = SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats().fma(d1, a31);
        }
        int o0 = k * ld + p;
        NEG_ZERO.add(a00).intoArray(dx, o0);
        NEG_ZERO.add(a01).intoArray(dx, o0 + L);
        NEG_ZERO.add(a10).intoArray(dx, o0 + ld);
        NEG_ZERO.add(a11).intoArray(dx, o0 + ld + L);
        NEG_ZERO.add(a20).intoArray(dx, o0 + 2 * ld);
        NEG_ZERO.add(a21).intoArray(dx, o0 + 2 * ld + L);
        NEG_ZERO.add(a30).intoArray(dx, o0 + 3 * ld);
        NEG_ZERO.add(a31).intoArray(dx, o0 + 3 * ld + L);
    }

    private static void igrad2x1(int o, int ld, float[] wt, int wo, float[] x, int[] xRow, int k, int p, float[] dy, float[] dx) {
        FloatVector x00 = FloatVector.fromArray(S, x, xRow[k] + p);
        FloatVector x10 = FloatVector.fromArray(S, x, xRow[k + 1] + p);
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a00 = z, a10 = z;
        int t0 = wo + k * o, t1 = t0 + o;
        for (int r = 0, di = p; r < o; r++, di += ld) {
            FloatVector d0 = FloatVector.fromArray(S, dy, di);
            FloatVector b = ZERO.broadcast(wt[t0 + r]);
            IntVector e = b.sub(x00).reinterpretAsInts();
            a00 = SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats().fma(d0, a00);
            b = ZERO.broadcast(wt[t1 + r]);
            e = b.sub(x10).reinterpretAsInts();
            a10 = SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats().fma(d0, a10);
        }
        int o0 = k * ld + p;
        NEG_ZERO.add(a00).intoArray(dx, o0);
        NEG_ZERO.add(a10).intoArray(dx, o0 + ld);
    }

    private static void igrad1x1(int o, int ld, float[] wt, int wo, float[] x, int[] xRow, int k, int p, float[] dy, float[] dx) {
        FloatVector x00 = FloatVector.fromArray(S, x, xRow[k] + p);
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a00 = z;
        int t0 = wo + k * o;
        for (int r = 0, di = p; r < o; r++, di += ld) {
            FloatVector d0 = FloatVector.fromArray(S, dy, di);
            FloatVector b = ZERO.broadcast(wt[t0 + r]);
            IntVector e = b.sub(x00).reinterpretAsInts();
            a00 = SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats().fma(d0, a00);
        }
        int o0 = k * ld + p;
        NEG_ZERO.add(a00).intoArray(dx, o0);
    }

    // ---------------------------------------------------------------- filter gradient: dw += dy . x^T

    @Override
    public void filterGrad(int o, int kk, int ld, float[] dy, float[] x, int[] xRow, float[] dw, int dwOff, int ds) {
        float[] tmp = LANES.get();
        // k tiles of x that stay in L2 while the row blocks of dy pass, as in adderFilterGrad
        int kt = tileRows(ld);
        for (int k0 = 0; k0 < kk; k0 += kt) {
            int k1 = Math.min(kk, k0 + kt);
            int r = 0;
            for (; r + 4 <= o; r += 4) {
                int k = k0;
                for (; k + 4 <= k1; k += 4) fgrad4x4(ld, ds, dy, r * ld, x, xRow, k, dw, dwOff + r * ds + k, tmp);
                for (; k < k1; k++) fgrad4x1(ld, ds, dy, r * ld, x, xRow[k], dw, dwOff + r * ds + k, tmp);
            }
            for (; r < o; r++) {
                int k = k0;
                for (; k + 4 <= k1; k += 4) fgrad1x4(ld, dy, r * ld, x, xRow, k, dw, dwOff + r * ds + k, tmp);
                for (; k < k1; k++) fgrad1x1(ld, dy, r * ld, x, xRow[k], dw, dwOff + r * ds + k, tmp);
            }
        }
    }

    private static void fgrad4x4(int ld, int kk, float[] dy, int d0, float[] x, int[] xRow, int k, float[] dw, int w0,
                                 float[] tmp) {
        FloatVector z = FloatVector.zero(S);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        FloatVector a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
        int d1 = d0 + ld, d2 = d1 + ld, d3 = d2 + ld;
        int x0 = xRow[k], x1 = xRow[k + 1], x2 = xRow[k + 2], x3 = xRow[k + 3];
        for (int p = 0; p < ld; p += L) {
            FloatVector u0 = FloatVector.fromArray(S, dy, d0 + p);
            FloatVector u1 = FloatVector.fromArray(S, dy, d1 + p);
            FloatVector u2 = FloatVector.fromArray(S, dy, d2 + p);
            FloatVector u3 = FloatVector.fromArray(S, dy, d3 + p);
            FloatVector v = FloatVector.fromArray(S, x, x0 + p);
            a00 = u0.fma(v, a00);
            a10 = u1.fma(v, a10);
            a20 = u2.fma(v, a20);
            a30 = u3.fma(v, a30);
            v = FloatVector.fromArray(S, x, x1 + p);
            a01 = u0.fma(v, a01);
            a11 = u1.fma(v, a11);
            a21 = u2.fma(v, a21);
            a31 = u3.fma(v, a31);
            v = FloatVector.fromArray(S, x, x2 + p);
            a02 = u0.fma(v, a02);
            a12 = u1.fma(v, a12);
            a22 = u2.fma(v, a22);
            a32 = u3.fma(v, a32);
            v = FloatVector.fromArray(S, x, x3 + p);
            a03 = u0.fma(v, a03);
            a13 = u1.fma(v, a13);
            a23 = u2.fma(v, a23);
            a33 = u3.fma(v, a33);
        }
        a00.intoArray(tmp, 0 * L);
        a01.intoArray(tmp, 1 * L);
        a02.intoArray(tmp, 2 * L);
        a03.intoArray(tmp, 3 * L);
        a10.intoArray(tmp, 4 * L);
        a11.intoArray(tmp, 5 * L);
        a12.intoArray(tmp, 6 * L);
        a13.intoArray(tmp, 7 * L);
        a20.intoArray(tmp, 8 * L);
        a21.intoArray(tmp, 9 * L);
        a22.intoArray(tmp, 10 * L);
        a23.intoArray(tmp, 11 * L);
        a30.intoArray(tmp, 12 * L);
        a31.intoArray(tmp, 13 * L);
        a32.intoArray(tmp, 14 * L);
        a33.intoArray(tmp, 15 * L);
        addLaneSums4(tmp, 0, dw, w0, w0 + 1, w0 + 2, w0 + 3);
        addLaneSums4(tmp, 4 * L, dw, w0 + kk, w0 + kk + 1, w0 + kk + 2, w0 + kk + 3);
        addLaneSums4(tmp, 8 * L, dw, w0 + 2 * kk, w0 + 2 * kk + 1, w0 + 2 * kk + 2, w0 + 2 * kk + 3);
        addLaneSums4(tmp, 12 * L, dw, w0 + 3 * kk, w0 + 3 * kk + 1, w0 + 3 * kk + 2, w0 + 3 * kk + 3);
    }

    private static void fgrad4x1(int ld, int kk, float[] dy, int d0, float[] x, int x0, float[] dw, int w0, float[] tmp) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        int d1 = d0 + ld, d2 = d1 + ld, d3 = d2 + ld;
        for (int p = 0; p < ld; p += L) {
            FloatVector v = FloatVector.fromArray(S, x, x0 + p);
            a0 = FloatVector.fromArray(S, dy, d0 + p).fma(v, a0);
            a1 = FloatVector.fromArray(S, dy, d1 + p).fma(v, a1);
            a2 = FloatVector.fromArray(S, dy, d2 + p).fma(v, a2);
            a3 = FloatVector.fromArray(S, dy, d3 + p).fma(v, a3);
        }
        a0.intoArray(tmp, 0);
        a1.intoArray(tmp, L);
        a2.intoArray(tmp, 2 * L);
        a3.intoArray(tmp, 3 * L);
        addLaneSums4(tmp, 0, dw, w0, w0 + kk, w0 + 2 * kk, w0 + 3 * kk);
    }

    private static void fgrad1x4(int ld, float[] dy, int d0, float[] x, int[] xRow, int k, float[] dw, int w0,
                                 float[] tmp) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        int x0 = xRow[k], x1 = xRow[k + 1], x2 = xRow[k + 2], x3 = xRow[k + 3];
        for (int p = 0; p < ld; p += L) {
            FloatVector u = FloatVector.fromArray(S, dy, d0 + p);
            a0 = u.fma(FloatVector.fromArray(S, x, x0 + p), a0);
            a1 = u.fma(FloatVector.fromArray(S, x, x1 + p), a1);
            a2 = u.fma(FloatVector.fromArray(S, x, x2 + p), a2);
            a3 = u.fma(FloatVector.fromArray(S, x, x3 + p), a3);
        }
        a0.intoArray(tmp, 0);
        a1.intoArray(tmp, L);
        a2.intoArray(tmp, 2 * L);
        a3.intoArray(tmp, 3 * L);
        addLaneSums4(tmp, 0, dw, w0, w0 + 1, w0 + 2, w0 + 3);
    }

    private static void fgrad1x1(int ld, float[] dy, int d0, float[] x, int x0, float[] dw, int w0, float[] tmp) {
        FloatVector a = FloatVector.zero(S);
        for (int p = 0; p < ld; p += L) {
            a = FloatVector.fromArray(S, dy, d0 + p).fma(FloatVector.fromArray(S, x, x0 + p), a);
        }
        a.intoArray(tmp, 0);
        dw[w0] += laneSum(tmp, 0);
    }

    @Override
    public void addTo(float[] src, int s0, float[] dst, int d0, int len) {
        // C2 does not auto-vectorize this shifted add (it cannot rule out overlap), and it is col2im's whole cost.
        for (int i = 0; i < len; i += L) {
            FloatVector.fromArray(S, dst, d0 + i).add(FloatVector.fromArray(S, src, s0 + i)).intoArray(dst, d0 + i);
        }
    }

    // ---------------------------------------------------------------- adder filter gradient: dw += dy . (x - w)

    @Override
    public void adderFilterGrad(int o, int kk, int ld, float[] dy, float[] x, int[] xRow, float[] w, int wOff, int ws,
                                float[] dw, int dwOff, int ds) {
        float[] tmp = LANES.get();
        // k tiles whose rows of x stay in L2 while every row block of dy passes over them (x is K x ld: 0.6-4 MB
        // on the ResNet-20 layers, more than L2, and was streamed from L3 once per 4 filters).
        int kt = tileRows(ld);
        for (int k0 = 0; k0 < kk; k0 += kt) {
            int k1 = Math.min(kk, k0 + kt);
            int r = 0;
            for (; r + 4 <= o; r += 4) {
                int k = k0;
                // Software-pipelined lane sums: a block leaves its 8 accumulators in one half of tmp and the
                // previous block's are summed after this block's column loop, when their stores are long done
                // (summed right away, the scalar loads waited on the 512-bit stores: ~20 % of the filter
                // gradient's samples on a 656-column piece). Each output is the same sum, added once: same bits.
                int pending = -1;
                for (; k + 2 <= k1; k += 2) {
                    int half = (k - k0) / 2 % 2 * 8 * L;
                    afgrad4x2(ld, ws, dy, r * ld, x, xRow[k], xRow[k + 1], w, wOff + r * ws + k, tmp, half);
                    if (pending >= 0) addLaneSums8(tmp, 8 * L - half, dw, pending, ds);
                    pending = dwOff + r * ds + k;
                }
                if (pending >= 0) addLaneSums8(tmp, (k - k0) / 2 % 2 == 0 ? 8 * L : 0, dw, pending, ds);
                for (; k < k1; k++) {
                    for (int i = 0; i < 4; i++) {
                        afgrad1x1(ld, dy, (r + i) * ld, x, xRow[k], w[wOff + (r + i) * ws + k], dw, dwOff + (r + i) * ds + k, tmp);
                    }
                }
            }
            for (; r < o; r++) {
                for (int k = k0; k < k1; k++) afgrad1x1(ld, dy, r * ld, x, xRow[k], w[wOff + r * ws + k], dw, dwOff + r * ds + k, tmp);
            }
        }
    }

    /**
     * Rows of x (ld floats each) in a filter-gradient tile that stays in L2 while the row blocks of dy pass over
     * it: about {@link #TILE_FLOATS} floats, a multiple of 12 rows (whole 4-row blocks; 12 is from the removed 4 x 3 block, whose tuning it keeps).
     */
    static int tileRows(int ld) {
        return Math.max(12, TILE_FLOATS / ld / 12 * 12);
    }

    /**
     * 4 filters x 2 taps, the main block: 8 accumulators (as many as the FMA latency needs on two pipes), the 8
     * filter values broadcast outside the column loop (C2 hoists them), 2 loads of x and 4 of dy per 8 fmas. kk: the row
     * stride of w. The accumulators go to tmp[t0 + (i * 2 + j) * L] (filter i, tap j), summed by the caller.
     * Written with receivers of exact class (class comment): x - w as (-w) + x (IEEE's x - w, the same bits)
     * on a broadcast of ZERO, dy * (x - w) + a as (x - w) * dy + a, the accumulators stored through NEG_ZERO.add. As dy.fma(x.sub(w), a), with the loads
     * as receivers, C2 knew no accumulator's class at the stores: all 8 failed to intrinsify (-XX:+PrintInlining),
     * so every call boxed its 8 results (an allocation and a store call each) and kept an accumulator on the
     * stack inside the column loop.
     */
    private static void afgrad4x2(int ld, int kk, float[] dy, int d0, float[] x, int x0, int x1, float[] w, int wi,
                                  float[] tmp, int t0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z;
        // -w as scalars, broadcast inside the loop (C2 hoists the broadcasts): vectors made before the loop are not
        // receivers of exact class in an on-stack-replacement compile, whose entry state has only the declared types.
        float b00 = -w[wi], b01 = -w[wi + 1], b10 = -w[wi + kk], b11 = -w[wi + kk + 1];
        float b20 = -w[wi + 2 * kk], b21 = -w[wi + 2 * kk + 1], b30 = -w[wi + 3 * kk], b31 = -w[wi + 3 * kk + 1];
        int d1 = d0 + ld, d2 = d1 + ld, d3 = d2 + ld;
        for (int p = 0; p < ld; p += L) {
            FloatVector v0 = FloatVector.fromArray(S, x, x0 + p);
            FloatVector v1 = FloatVector.fromArray(S, x, x1 + p);
            FloatVector u = FloatVector.fromArray(S, dy, d0 + p);
            a00 = ZERO.broadcast(b00).add(v0).fma(u, a00);
            a01 = ZERO.broadcast(b01).add(v1).fma(u, a01);
            u = FloatVector.fromArray(S, dy, d1 + p);
            a10 = ZERO.broadcast(b10).add(v0).fma(u, a10);
            a11 = ZERO.broadcast(b11).add(v1).fma(u, a11);
            u = FloatVector.fromArray(S, dy, d2 + p);
            a20 = ZERO.broadcast(b20).add(v0).fma(u, a20);
            a21 = ZERO.broadcast(b21).add(v1).fma(u, a21);
            u = FloatVector.fromArray(S, dy, d3 + p);
            a30 = ZERO.broadcast(b30).add(v0).fma(u, a30);
            a31 = ZERO.broadcast(b31).add(v1).fma(u, a31);
        }
        NEG_ZERO.add(a00).intoArray(tmp, t0);
        NEG_ZERO.add(a01).intoArray(tmp, t0 + L);
        NEG_ZERO.add(a10).intoArray(tmp, t0 + 2 * L);
        NEG_ZERO.add(a11).intoArray(tmp, t0 + 3 * L);
        NEG_ZERO.add(a20).intoArray(tmp, t0 + 4 * L);
        NEG_ZERO.add(a21).intoArray(tmp, t0 + 5 * L);
        NEG_ZERO.add(a30).intoArray(tmp, t0 + 6 * L);
        NEG_ZERO.add(a31).intoArray(tmp, t0 + 7 * L);
    }

    private static void afgrad1x1(int ld, float[] dy, int d0, float[] x, int x0, float wk, float[] dw, int w0, float[] tmp) {
        FloatVector a = ZERO.broadcast(0f);
        float b = -wk;
        for (int p = 0; p < ld; p += L) {
            a = ZERO.broadcast(b).add(FloatVector.fromArray(S, x, x0 + p)).fma(FloatVector.fromArray(S, dy, d0 + p), a);
        }
        NEG_ZERO.add(a).intoArray(tmp, 0);
        dw[w0] += laneSum(tmp, 0);
    }

    /**
     * Installs a compiler directive (the {@code jcmd Compiler.directives_add} of the running JVM, through its
     * DiagnosticCommand MBean) that keeps C1 from compiling this class: its methods are interpreted (with
     * profiling) until C2 compiles them. Why: tiered compilation compiles a hot method with C1 first, at tier 2
     * when C2's queue is long (as it is while a model's first steps compile), and C1 force-inlines the whole
     * Vector API under every op without intrinsics: a block of 8 sums (~60 ops, e.g. the input gradient's 4 x 2)
     * then fails tier 3 with "out of virtual registers in LIR generator", and a method left in tier-2 code is
     * never profiled, so never reaches C2, and runs boxed (~0.3 G-ops/s) for the rest of the run. C1 gives these
     * kernels nothing: its code is boxed anyway. The directive also makes C2's compiles of these methods blocking
     * ({@code BackgroundCompilation: false}): the thread that made a kernel hot waits for its C2 code instead of
     * running it interpreted (~100x slower) meanwhile, which leaves the cores to the compiler threads during the
     * first step. conf/jvm-options.txt lowers C2's thresholds for this class (CompileThresholdScaling 0.02, a
     * start-up flag: no API sets it at run time), so most kernels get C2 code in the first training step.
     * Returns false (small blocks only) if the directive could not be added, e.g. without the java.management
     * module.
     */
    private static boolean excludeFromC1() {
        return CompilerDirectives.add("[{ match: [\"" + VectorColumnKernels.class.getName().replace('.', '/')
                + ".*\"], c1: { Exclude: true }, c2: { BackgroundCompilation: false } }]");
    }

    /*
     * The lane sums of a filter-gradient block, several outputs at a time: each output is still the scalar sum
     * 0 + lane 0 + lane 1 + ... in lane order, added to dw once (so the bits of laneSum), but the outputs' chains
     * are interleaved. One chain per output is 16 dependent adds (~48 cycles of latency), and a block's 8 or 16
     * chains one after the other cost about as much as the block's vector loop on a piece of ~650 columns
     * (ResNet-18's 7x7x512 layer, 8 samples of 81 shifted columns). The adder filter gradient's 4 x 2 blocks also
     * defer them by one block (see adderFilterGrad).
     */

    /** The four accumulators at tmp[off], tmp[off + L], tmp[off + 2L], tmp[off + 3L] added to dw[d0], ..., dw[d3]. */
    private static void addLaneSums4(float[] tmp, int off, float[] dw, int d0, int d1, int d2, int d3) {
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        for (int i = off; i < off + L; i++) {
            s0 += tmp[i];
            s1 += tmp[i + L];
            s2 += tmp[i + 2 * L];
            s3 += tmp[i + 3 * L];
        }
        dw[d0] += s0;
        dw[d1] += s1;
        dw[d2] += s2;
        dw[d3] += s3;
    }

    /**
     * The eight accumulators of a 4 x 2 block (accumulator i * 2 + j at tmp[t0 + (i * 2 + j) * L]) added to
     * dw[w0 + i * ds + j].
     */
    private static void addLaneSums8(float[] tmp, int t0, float[] dw, int w0, int ds) {
        addLaneSums4(tmp, t0, dw, w0, w0 + 1, w0 + ds, w0 + ds + 1);
        addLaneSums4(tmp, t0 + 4 * L, dw, w0 + 2 * ds, w0 + 2 * ds + 1, w0 + 3 * ds, w0 + 3 * ds + 1);
    }

    /** Sum of the L lanes stored at tmp[off..], in lane order: the same in interpreted and compiled code. */
    private static float laneSum(float[] tmp, int off) {
        float s = 0f;
        for (int i = off; i < off + L; i++) s += tmp[i];
        return s;
    }
}
