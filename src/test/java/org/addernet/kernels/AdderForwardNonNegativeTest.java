package org.addernet.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.addernet.engine.Rng;
import org.addernet.engine.ThreadPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The adder forward for inputs >= +0 ({@link ColumnKernels#adderForwardNonNegative}, {@code |w - x| = 2 max(w, x) -
 * w - x}): the vector kernels give the scalar contract's bits on every block remainder; it is as accurate as a
 * float32 adder forward should be against a float64 reference; the engine takes it exactly when every input is
 * +0 or positive and finite (a -0, a negative value, an infinity send it to the 3-op kernels, and the results stay
 * right); and the engine's result has the same bits at 1, 2, 3 and 8 threads.
 */
class AdderForwardNonNegativeTest {
    private static final ColumnKernels VECTOR = ConvEngineTest.kernels("vector");

    /** |Gaussian| times {@code scale}, with exact zeros (+0) sprinkled in (post-ReLU activations), quartered if asked. */
    static float[] activations(Rng r, int size, double scale, boolean quantized) {
        float[] a = KernelBitsTest.values(r, size, scale, quantized);
        for (int i = 0; i < size; i++) a[i] = i % 5 == 0 ? 0f : Math.abs(a[i]);
        return a;
    }

    @Test
    void vectorKernelsGiveTheScalarContractsBitsOnEveryBlockShape() {
        ColumnKernels scalar = new ScalarColumnKernels();
        int m = VECTOR.columnMultiple(), cases = 0;
        for (int o : new int[] {1, 2, 3, 4, 5, 7, 8, 9, 13, 17}) {
            for (int kk : new int[] {1, 2, 3, 9, 15, 16, 17, 27, 33, 40}) {
                for (int panels : new int[] {1, 2, 3, 4, 5, 7, 9}) {
                    int ld = panels * m;
                    boolean quantized = (o + kk + panels) % 2 == 0;
                    Rng r = new Rng(17L * o + 5L * kk + panels);
                    int[] xRow = KernelBitsTest.scatteredRows(kk, ld);
                    float[] x = activations(r, kk * (ld + 3) + 3, 1.0, quantized);
                    float[] w = KernelBitsTest.values(r, o * kk + 5, 0.8, quantized);
                    w[5] = -0f; // a -0 weight: max(-0, x) is x
                    float[] want = new float[o * ld], got = new float[o * ld];
                    scalar.adderForwardNonNegative(o, kk, ld, w, 5, x, xRow, want);
                    VECTOR.adderForwardNonNegative(o, kk, ld, w, 5, x, xRow, got);
                    ThreadCountBitsTest.assertSameBits(want, got, "non-negative adder forward o " + o + ", kk " + kk + ", ld " + ld);
                    cases++;
                }
            }
        }
        assertEquals(700, cases);
    }

    /** The engine's float32 adder forward against ConvReference's float64 one: relative L2 error. */
    static double relativeError(ConvGeometry g, float[] y, float[] x, float[] w) {
        return ConvEngineTest.relError(y, 0, ConvReference.forward(g, doubles(x), doubles(w), true));
    }

    private static double[] doubles(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    static final List<ConvGeometry> SHAPES = List.of(
            new ConvGeometry(4, 16, 32, 32, 16, 3, 1, 1),   // ResNet-20 layer1 (interleaved)
            new ConvGeometry(8, 64, 8, 8, 64, 3, 1, 1),     // ResNet-20 layer3 (K = 576: 36 blocks)
            new ConvGeometry(3, 32, 16, 16, 64, 3, 2, 1),   // stride 2 (phase-split)
            new ConvGeometry(5, 32, 16, 16, 64, 1, 2, 0),   // 1x1 stride-2 shortcut
            new ConvGeometry(1, 64, 8, 8, 64, 3, 1, 1),     // batch 1 (split over the threads)
            new ConvGeometry(6, 7, 13, 11, 9, 3, 1, 1),     // odd everything
            new ConvGeometry(2, 256, 7, 7, 16, 3, 1, 1));   // K = 2304: the K-chunked (3-op) path where the plan takes it

    @ParameterizedTest(name = "{0} kernels")
    @ValueSource(strings = {"vector", "scalar"})
    void isAccurateAgainstFloat64AndHasTheSameBitsAtEveryThreadCount(String kind) {
        List<float[]> first = new ArrayList<>();
        double worst = 0;
        for (int threads : ThreadCountBitsTest.THREADS) {
            try (ThreadPool pool = new ThreadPool(threads)) {
                ColumnConvEngine e = new ColumnConvEngine(pool, ConvEngineTest.kernels(kind));
                for (int i = 0; i < SHAPES.size(); i++) {
                    ConvGeometry g = SHAPES.get(i);
                    Rng r = new Rng(500 + i);
                    float[] x = activations(r, g.inputSize(), 1.0, false), w = KernelBitsTest.values(r, g.filterSize(), 0.5, false);
                    float[] y = new float[g.outputSize()];
                    e.adderForward(g, x, w, 0, y);
                    if (threads == 1) {
                        double err = relativeError(g, y, x, w);
                        worst = Math.max(worst, err);
                        // float32 with blocks of 16 taps: ~1e-7 for the 3-op sums; 2M and W + X cost a few times that.
                        assertTrue(err < 1e-6, kind + " " + g + ": relative error " + err);
                        first.add(y);
                    } else {
                        ThreadCountBitsTest.assertSameBits(first.get(i), y, kind + " " + g + " at " + threads + " threads vs 1");
                    }
                }
            }
        }
        assertTrue(worst > 0, "the sums round somewhere");
    }

    @Test
    void theEngineTakesTheTwoOpKernelExactlyForNonNegativeFiniteInputs() {
        ConvGeometry g = new ConvGeometry(4, 16, 8, 8, 16, 3, 1, 1);
        Rng r = new Rng(9);
        float[] x = activations(r, g.inputSize(), 1.0, false), w = KernelBitsTest.values(r, g.filterSize(), 0.5, false);
        assertTrue(VECTOR.nonNegativeFinite(x, 0, x.length));
        try (ThreadPool pool = new ThreadPool(2)) {
            for (String kind : new String[] {"vector", "scalar"}) {
                ColumnKernels k = ConvEngineTest.kernels(kind);
                ColumnConvEngine e = new ColumnConvEngine(pool, k);
                float[] y = new float[g.outputSize()], three = new float[g.outputSize()];
                e.adderForward(g, x, w, 0, y);
                // The 3-op kernels on the same data, through an input that only differs by one value it cannot take.
                for (float bad : new float[] {-0f, -1e-30f, Float.POSITIVE_INFINITY, Float.NaN}) {
                    float[] xb = x.clone();
                    int at = g.inputSize() / 2;
                    xb[at] = bad;
                    assertFalse(k.nonNegativeFinite(xb, 0, xb.length), kind + ": " + bad + " is not a non-negative finite input");
                    assertTrue(k.nonNegativeFinite(xb, 0, at), kind + ": the range before it is");
                    if (!Float.isFinite(bad)) continue;
                    e.adderForward(g, xb, w, 0, three);
                    double err = relativeError(g, three, xb, w);
                    assertTrue(err < 1e-6, kind + " with " + bad + ": relative error " + err);
                }
                // -0 differs from +0 only in its sign, yet the 2-op form would be wrong for it (max(w < 0, -0) = w):
                // the 3-op result on the -0 input equals the 3-op kernels' own; the 2-op result on +0 does not.
                float[] xz = x.clone();
                xz[g.inputSize() / 2] = -0f;
                e.adderForward(g, xz, w, 0, three);
                float[] y3 = new float[g.outputSize()];
                ColumnConvEngine plain = new ColumnConvEngine(pool, new ThreeOpOnly(k));
                plain.adderForward(g, xz, w, 0, y3);
                ThreadCountBitsTest.assertSameBits(y3, three, kind + ": an input with -0 takes the 3-op kernels");
                plain.adderForward(g, x, w, 0, y3);
                boolean differs = false;
                for (int i = 0; i < y.length; i++) differs |= Float.floatToRawIntBits(y[i]) != Float.floatToRawIntBits(y3[i]);
                assertTrue(differs, kind + ": a non-negative input takes the 2-op kernels (some rounding differs from the 3-op)");
            }
        }
    }

    /** An input of several check slices over 2 threads: one -0 in the last slice sends the layer to the 3-op kernels. */
    @Test
    void aMinusZeroInTheLastCheckSliceIsSeen() {
        ConvGeometry g = new ConvGeometry(3, 16, 48, 48, 8, 3, 1, 1); // 110,592 floats: 2 slices of the check
        Rng r = new Rng(13);
        float[] x = activations(r, g.inputSize(), 1.0, false), w = KernelBitsTest.values(r, g.filterSize(), 0.5, false);
        x[g.inputSize() - 1] = -0f;
        try (ThreadPool pool = new ThreadPool(2)) {
            ColumnKernels k = ConvEngineTest.kernels("vector");
            float[] got = new float[g.outputSize()], want = new float[g.outputSize()];
            new ColumnConvEngine(pool, k).adderForward(g, x, w, 0, got);
            new ColumnConvEngine(pool, new ThreeOpOnly(k)).adderForward(g, x, w, 0, want);
            ThreadCountBitsTest.assertSameBits(want, got, "a -0 at the input's last value");
        }
    }

    /** Kernels whose inputs are never non-negative: the engine always takes the 3-op adder forward. */
    private record ThreeOpOnly(ColumnKernels k) implements ColumnKernels {
        @Override public String name() { return k.name(); }
        @Override public int columnMultiple() { return k.columnMultiple(); }
        @Override public void adderForward(int o, int kk, int ld, float[] w, int wOff, float[] x, int[] xRow, float[] y) {
            k.adderForward(o, kk, ld, w, wOff, x, xRow, y);
        }
        @Override public void adderForwardNonNegative(int o, int kk, int ld, float[] w, int wOff, float[] x, int[] xRow, float[] y) {
            throw new AssertionError("not taken");
        }
        @Override public boolean nonNegativeFinite(float[] x, int from, int to) { return false; }
        @Override public void adderForwardChunk(int o, int kk, int ld, float[] w, int wOff, int wStride, float[] x, int[] xRow, float[] t) {
            k.adderForwardChunk(o, kk, ld, w, wOff, wStride, x, xRow, t);
        }
        @Override public void multiply(int rows, int inner, int ld, float[] a, int aOff, float[] b, int[] bRow, float[] out) {
            k.multiply(rows, inner, ld, a, aOff, b, bRow, out);
        }
        @Override public void convForward(int rows, int kk, int ld, float[] w, int wOff, int ws, float[] x, int[] xRow, float[] out,
                                          boolean accumulate) {
            k.convForward(rows, kk, ld, w, wOff, ws, x, xRow, out, accumulate);
        }
        @Override public void adderInputGrad(int o, int kk, int ld, float[] wt, int wtOff, float[] x, int[] xRow, float[] dy, float[] dx) {
            k.adderInputGrad(o, kk, ld, wt, wtOff, x, xRow, dy, dx);
        }
        @Override public void filterGrad(int o, int kk, int ld, float[] dy, float[] x, int[] xRow, float[] dw, int dwOff, int dwStride) {
            k.filterGrad(o, kk, ld, dy, x, xRow, dw, dwOff, dwStride);
        }
        @Override public void adderFilterGrad(int o, int kk, int ld, float[] dy, float[] x, int[] xRow, float[] w, int wOff, int wStride,
                                              float[] dw, int dwOff, int dwStride) {
            k.adderFilterGrad(o, kk, ld, dy, x, xRow, w, wOff, wStride, dw, dwOff, dwStride);
        }
        @Override public void addTo(float[] src, int s0, float[] dst, int d0, int len) { k.addTo(src, s0, dst, d0, len); }
    }
}
