package org.addernet.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.addernet.engine.Rng;
import org.addernet.engine.ThreadPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * K-chunked plans (ColumnConvEngine.KC or KC_SHIFTED taps per chunk, for layers whose K x columns matrix does not fit the
 * workspace: ResNet-18/50 at 224), on small shapes with a small budget that forces them: the shifted layout with
 * all channels packed, explicit im2col by row ranges for stride 2, 1x1 (pointwise and strided) and full windows.
 *
 * <p>The adder forward and input gradient are compared bit for bit with exact scalar references written from the
 * {@link ColumnKernels} contracts, independent of the engine's layouts: forward blocks of KB taps summed positive
 * and y = 0 - total; input gradient per column the o-ascending chain (an FMA per term for the vector kernels, a
 * multiply and an add for the scalar ones), then per input pixel the taps (u, v) added in ascending order from +0.
 * Every op (filter gradients and conv too) must give the same bits at 1, 2 and 3 threads and stay within 1e-5 of
 * the float64 {@link ConvReference}.
 */
class ConvEngineChunkTest {
    /** Budget and target columns that make these shapes chunked; each sample still fits one piece. */
    private static final int BUDGET = 20000, TARGET = 256;

    static final List<ConvGeometry> SHAPES = List.of(
            new ConvGeometry(4, 32, 5, 5, 4, 3, 1, 1),      // shifted, K = 288: chunks of 256 + 32
            new ConvGeometry(3, 30, 6, 5, 5, 3, 1, 1),      // shifted, K = 270, odd map
            new ConvGeometry(5, 12, 9, 9, 7, 3, 2, 1),      // stride 2, explicit rows
            new ConvGeometry(4, 100, 5, 5, 9, 1, 1, 0),     // pointwise, K = C = 100
            new ConvGeometry(4, 100, 6, 6, 5, 1, 2, 0),     // 1x1 stride 2 shortcut
            new ConvGeometry(3, 8, 5, 5, 6, 5, 1, 0),       // full window (fc1-like), K = 200
            new ConvGeometry(2, 3, 17, 15, 5, 7, 2, 3));    // 7x7 stride-2 stem, K = 147

    static float[] values(Rng r, int size, double scale, boolean quantized) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) {
            double v = r.nextGaussian() * scale;
            a[i] = quantized ? (float) (Math.rint(v * 4) / 4) : (float) v;
        }
        return a;
    }

    private static float xp(ConvGeometry g, float[] x, int n, int c, int hh, int ww) {
        if (hh < 0 || hh >= g.h() || ww < 0 || ww >= g.w()) return 0f;
        return x[((n * g.c() + c) * g.h() + hh) * g.w() + ww];
    }

    /** y = 0 - (sum over blocks of KB taps of (sum |x - w| from +0)), taps k = (c, u, v) ascending. */
    static float[] forwardReference(ConvGeometry g, float[] x, float[] w, int wOff) {
        int ho = g.ho(), wo = g.wo(), k = g.k(), kk = g.kk();
        float[] y = new float[g.outputSize()];
        for (int n = 0; n < g.n(); n++)
            for (int o = 0; o < g.o(); o++)
                for (int i = 0; i < ho; i++)
                    for (int j = 0; j < wo; j++) {
                        float t = 0f;
                        for (int k0 = 0; k0 < kk; k0 += ColumnKernels.KB) {
                            float s = 0f;
                            for (int r = k0; r < Math.min(kk, k0 + ColumnKernels.KB); r++) {
                                int c = r / (k * k), u = r / k % k, v = r % k;
                                float xv = xp(g, x, n, c, i * g.stride() + u - g.pad(), j * g.stride() + v - g.pad());
                                s = Math.abs(xv - w[wOff + o * kk + r]) + s;
                            }
                            t = s + t;
                        }
                        y[((n * g.o() + o) * ho + i) * wo + j] = 0f - t;
                    }
        return y;
    }

    /** The adder input gradient, see the class comment; {@code fma} for the vector kernels' rounding. */
    static float[] inputGradReference(ConvGeometry g, float[] x, float[] w, int wOff, float[] dy, boolean fma) {
        int ho = g.ho(), wo = g.wo(), k = g.k(), kk = g.kk(), s = g.stride();
        float[] dx = new float[g.inputSize()];
        for (int n = 0; n < g.n(); n++)
            for (int c = 0; c < g.c(); c++)
                for (int hh = 0; hh < g.h(); hh++)
                    for (int ww = 0; ww < g.w(); ww++) {
                        float acc = 0f;
                        for (int u = 0; u < k; u++)
                            for (int v = 0; v < k; v++) {
                                int di = hh + g.pad() - u, dj = ww + g.pad() - v;
                                if (di < 0 || dj < 0 || di % s != 0 || dj % s != 0) continue;
                                int i = di / s, j = dj / s;
                                if (i >= ho || j >= wo) continue;
                                int r = (c * k + u) * k + v;
                                float xv = x[((n * g.c() + c) * g.h() + hh) * g.w() + ww], col = 0f;
                                for (int o = 0; o < g.o(); o++) {
                                    float d = w[wOff + o * kk + r] - xv;
                                    float cl = d > 1f ? 1f : d < -1f ? -1f : d;
                                    float dyv = dy[((n * g.o() + o) * ho + i) * wo + j];
                                    col = fma ? Math.fma(cl, dyv, col) : col + cl * dyv;
                                }
                                acc += col;
                            }
                        dx[((n * g.c() + c) * g.h() + hh) * g.w() + ww] = acc;
                    }
        return dx;
    }

    @Test
    void shapesAreChunkedAndCoverBothLayouts() {
        int shifted = 0;
        try (ThreadPool pool = new ThreadPool(1)) {
            // Explicit plans for the strided shapes (phased = false): their K-chunked im2col rows are what this covers.
            ColumnConvEngine e = new ColumnConvEngine(pool, new ScalarColumnKernels(), BUDGET, TARGET, ColumnConvEngine.CACHE_FLOATS, false);
            for (ConvGeometry g : SHAPES) {
                ColumnConvEngine.Plan p = e.plan(g);
                assertTrue(p.chunked(g) && p.kc() == (p.shifted() ? ColumnConvEngine.KC_SHIFTED : ColumnConvEngine.KC), g + " " + p);
                // One piece per sample at least (the dx reference adds a pixel's taps in one pass).
                assertTrue(p.shifted() || p.maxCols() >= g.positions(), g + " " + p);
                if (p.shifted()) shifted++;
            }
            assertTrue(shifted >= 2 && SHAPES.size() - shifted >= 4, shifted + " shifted");
            // The default budget keeps ResNet-20's and LeNet's plans (unchunked), and chunks ResNet-18's big layers.
            ColumnConvEngine d = new ColumnConvEngine(pool, new ScalarColumnKernels());
            assertFalse(d.plan(new ConvGeometry(256, 64, 8, 8, 64, 3, 1, 1)).chunked(new ConvGeometry(256, 64, 8, 8, 64, 3, 1, 1)));
            for (ConvGeometry g : List.of(new ConvGeometry(32, 64, 56, 56, 64, 3, 1, 1), new ConvGeometry(32, 256, 14, 14, 256, 3, 1, 1),
                    new ConvGeometry(32, 512, 7, 7, 512, 3, 1, 1), new ConvGeometry(32, 2048, 7, 7, 512, 1, 1, 0))) {
                ColumnConvEngine.Plan p = d.plan(g);
                assertTrue(p.chunked(g), g + " " + p);
                assertTrue(p.shifted() == (g.k() == 3), g + " " + p);
            }
        }
    }

    @ParameterizedTest(name = "{0} kernels")
    @ValueSource(strings = {"vector", "scalar"})
    void adderForwardAndInputGradMatchExactReferences(String kind) {
        try (ThreadPool pool = new ThreadPool(2)) {
            ColumnConvEngine e = new ColumnConvEngine(pool, ConvEngineTest.kernels(kind), BUDGET, TARGET);
            boolean fma = !e.kernelName().equals("scalar");
            for (int i = 0; i < SHAPES.size(); i++) {
                ConvGeometry g = SHAPES.get(i);
                Rng r = new Rng(77 + i);
                boolean quantized = i % 2 == 0;
                float[] x = values(r, g.inputSize(), 1.0, quantized), w = values(r, g.filterSize() + 3, 0.8, quantized);
                float[] dy = values(r, g.outputSize(), 1.0, quantized);
                float[] y = new float[g.outputSize()], dx = new float[g.inputSize()];
                e.adderForward(g, x, w, 3, y);
                ThreadCountBitsTest.assertSameBits(forwardReference(g, x, w, 3), y, kind + " adder forward " + g);
                e.adderBackward(g, x, w, 3, dy, dx, null, 0);
                ThreadCountBitsTest.assertSameBits(inputGradReference(g, x, w, 3, dy, fma), dx, kind + " adder input grad " + g);
            }
        }
    }

    @ParameterizedTest(name = "{0} kernels")
    @ValueSource(strings = {"vector", "scalar"})
    void everyOpHasTheSameBitsForEveryThreadCountAndMatchesTheReference(String kind) {
        float[][][] base = new float[SHAPES.size()][][];
        for (int threads : new int[] {1, 2, 3}) {
            try (ThreadPool pool = new ThreadPool(threads)) {
                ColumnConvEngine e = new ColumnConvEngine(pool, ConvEngineTest.kernels(kind), BUDGET, TARGET);
                for (int i = 0; i < SHAPES.size(); i++) {
                    ConvGeometry g = SHAPES.get(i);
                    float[][] out = runAll(e, g, 300 + i);
                    if (base[i] == null) {
                        base[i] = out;
                        checkReference(g, 300 + i, out);
                        continue;
                    }
                    for (int op = 0; op < out.length; op++) {
                        ThreadCountBitsTest.assertSameBits(base[i][op], out[op], kind + " op " + op + " " + g + " at " + threads + " threads");
                    }
                }
            }
        }
    }

    /**
     * The chunked walk on the same pieces changes no bit of any op, filter gradients included: every explicit
     * plan with K > KC chunked (cacheFloats 0) against none (cacheFloats max), same budget, on the thread-count
     * and pinned shapes (stride 2, 7x7 stride 3, 1x1, full windows), with the default and with a small workspace.
     */
    @ParameterizedTest(name = "{0} kernels")
    @ValueSource(strings = {"vector", "scalar"})
    void chunkingAPieceKeepsEveryBit(String kind) {
        List<ConvGeometry> shapes = new java.util.ArrayList<>(KernelBitsTest.SHAPES);
        shapes.add(new ConvGeometry(9, 40, 12, 12, 24, 3, 2, 1));   // K = 360, wide pieces
        shapes.add(new ConvGeometry(3, 200, 6, 6, 10, 1, 1, 0));    // pointwise, K = 200
        shapes.add(new ConvGeometry(2, 3, 40, 40, 8, 7, 2, 3));     // stem-like, K = 147
        int chunked = 0;
        try (ThreadPool pool = new ThreadPool(2)) {
            for (int[] cfg : new int[][] {{ColumnConvEngine.DEFAULT_BUDGET, ColumnConvEngine.DEFAULT_TARGET_COLS}, {BUDGET, TARGET}}) {
                // Explicit plans only (phased = false): the strided shapes' chunked walk is what this compares.
                ColumnConvEngine whole = new ColumnConvEngine(pool, ConvEngineTest.kernels(kind), cfg[0], cfg[1], Integer.MAX_VALUE, false);
                ColumnConvEngine cut = new ColumnConvEngine(pool, ConvEngineTest.kernels(kind), cfg[0], cfg[1], 0, false);
                for (int i = 0; i < shapes.size(); i++) {
                    ConvGeometry g = shapes.get(i);
                    ColumnConvEngine.Plan a = whole.plan(g), b = cut.plan(g);
                    assertEquals(a.maxCols(), b.maxCols(), g + " pieces");
                    assertEquals(a.perChunk(), b.perChunk(), g + " units");
                    if (b.chunked(g) && !a.chunked(g)) chunked++;
                    float[][] want = runAll(whole, g, 900 + i), got = runAll(cut, g, 900 + i);
                    for (int op = 0; op < 6; op++) {
                        ThreadCountBitsTest.assertSameBits(want[op], got[op], kind + " op " + op + " " + g + " budget " + cfg[0]);
                    }
                }
            }
        }
        assertTrue(chunked >= 6, chunked + " plans chunked");
    }

    /** y, dx, dw - dw0 of adder then conv, from the inputs of {@code seed}. */
    static float[][] runAll(ConvEngine e, ConvGeometry g, long seed) {
        Rng r = new Rng(seed);
        float[] x = values(r, g.inputSize(), 1.0, false), w = values(r, g.filterSize() + 3, 0.7, false);
        float[] dy = values(r, g.outputSize(), 1.0, false), dw0 = values(r, g.filterSize() + 5, 0.1, false);
        float[][] out = new float[6][];
        for (int a = 0; a < 2; a++) {
            float[] y = new float[g.outputSize()], dx = new float[g.inputSize()], dw = dw0.clone();
            if (a == 0) {
                e.adderForward(g, x, w, 3, y);
                e.adderBackward(g, x, w, 3, dy, dx, dw, 2);
            } else {
                e.convForward(g, x, w, 3, y);
                e.convBackward(g, x, w, 3, dy, dx, dw, 2);
            }
            float[] delta = new float[g.filterSize()];
            for (int i = 0; i < delta.length; i++) delta[i] = dw[2 + i] - dw0[2 + i];
            out[3 * a] = y;
            out[3 * a + 1] = dx;
            out[3 * a + 2] = delta;
        }
        return out;
    }

    static void checkReference(ConvGeometry g, long seed, float[][] out) {
        Rng r = new Rng(seed);
        float[] x = values(r, g.inputSize(), 1.0, false), w = values(r, g.filterSize() + 3, 0.7, false);
        float[] dy = values(r, g.outputSize(), 1.0, false);
        double[] xd = new double[x.length], wd = new double[g.filterSize()], dyd = new double[dy.length];
        for (int i = 0; i < x.length; i++) xd[i] = x[i];
        for (int i = 0; i < wd.length; i++) wd[i] = w[3 + i];
        for (int i = 0; i < dy.length; i++) dyd[i] = dy[i];
        for (int a = 0; a < 2; a++) {
            boolean adder = a == 0;
            double[] y = ConvReference.forward(g, xd, wd, adder);
            double[][] grads = ConvReference.backward(g, xd, wd, dyd, adder);
            double[][] refs = {y, grads[0], grads[1]};
            for (int t = 0; t < 3; t++) {
                double num = 0, den = 0;
                for (int i = 0; i < refs[t].length; i++) {
                    double d = out[3 * a + t][i] - refs[t][i];
                    num += d * d;
                    den += refs[t][i] * refs[t][i];
                }
                double err = Math.sqrt(num / Math.max(den, 1e-300));
                assertTrue(err <= 1e-5, (adder ? "adder" : "conv") + " output " + t + " " + g + ": relative error " + err);
            }
        }
        assertEquals(6, out.length);
    }
}
