package org.addernet.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.addernet.engine.Rng;
import org.addernet.engine.ThreadPool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every op of both kernel sets, at 1 and 3 threads, against {@link ConvReference} on random geometries. */
class ConvEngineTest {
    private static final double TOL = 1e-5;

    /** One geometry with its inputs and float64 reference results, shared by all engine configurations. */
    private record Case(ConvGeometry g, float[] x, float[] w, int wOff, float[] dy,
                        double[] adderY, double[][] adderGrad, double[] convY, double[][] convGrad) {
    }

    private static final List<Case> CASES = new ArrayList<>();
    private static ThreadPool pool1, pool3;

    @BeforeAll
    static void buildCases() {
        pool1 = new ThreadPool(1);
        pool3 = new ThreadPool(3);
        Rng r = new Rng(20240601L);
        List<ConvGeometry> gs = new ArrayList<>();
        int[] ks = {1, 2, 3, 5, 7};
        for (int i = 0; i < 36; i++) {
            int k = ks[r.nextInt(ks.length)], pad = r.nextInt(4), stride = 1 + r.nextInt(3);
            int min = Math.max(1, k - 2 * pad);
            gs.add(new ConvGeometry(1 + r.nextInt(9), 1 + r.nextInt(7), min + r.nextInt(7), min + r.nextInt(9),
                    1 + r.nextInt(21), k, stride, pad));
        }
        gs.add(new ConvGeometry(6, 16, 5, 5, 13, 5, 1, 0));   // Ho*Wo = 1, like LeNet's fc1
        gs.add(new ConvGeometry(9, 21, 1, 1, 11, 1, 1, 0));   // 1x1 on 1x1 maps, like fc2/fc3
        gs.add(new ConvGeometry(3, 5, 9, 7, 6, 1, 1, 0));     // pointwise copy path
        gs.add(new ConvGeometry(2, 3, 6, 6, 5, 1, 2, 0));     // 1x1 stride 2 (ResNet shortcut)
        gs.add(new ConvGeometry(5, 3, 2, 3, 7, 7, 1, 3));     // kernel larger than the input
        gs.add(new ConvGeometry(9, 3, 34, 33, 5, 3, 1, 1));   // P > 1024: several chunks and pieces
        // Stride-1 layers in the shifted layout (pad <= k-1), with odd sizes and every remainder path.
        gs.add(new ConvGeometry(4, 3, 9, 11, 5, 3, 1, 1));
        gs.add(new ConvGeometry(3, 5, 12, 10, 7, 5, 1, 2));
        gs.add(new ConvGeometry(2, 7, 8, 8, 9, 3, 1, 0));
        gs.add(new ConvGeometry(5, 2, 6, 7, 13, 2, 1, 1));
        gs.add(new ConvGeometry(7, 1, 10, 10, 6, 5, 1, 2));
        gs.add(new ConvGeometry(2, 16, 8, 8, 17, 3, 1, 1));
        gs.add(new ConvGeometry(3, 3, 7, 6, 19, 7, 1, 4));
        for (ConvGeometry g : gs) CASES.add(makeCase(g, r));
    }

    @AfterAll
    static void closePools() {
        pool1.close();
        pool3.close();
    }

    private static float[] gaussian(Rng r, int size, double scale) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) a[i] = (float) (r.nextGaussian() * scale);
        return a;
    }

    private static double[] toDouble(float[] a, int off, int len) {
        double[] d = new double[len];
        for (int i = 0; i < len; i++) d[i] = a[off + i];
        return d;
    }

    private static Case makeCase(ConvGeometry g, Rng r) {
        float[] x = gaussian(r, g.inputSize(), 1.0);
        int wOff = r.nextInt(5);
        // Weights of mixed scale, so the clamp both saturates and passes values through.
        float[] w = gaussian(r, g.filterSize() + wOff + 3, 0.2 + r.nextDouble());
        float[] dy = gaussian(r, g.outputSize(), 1.0);
        double[] xd = toDouble(x, 0, x.length), wd = toDouble(w, wOff, g.filterSize()), dyd = toDouble(dy, 0, dy.length);
        return new Case(g, x, w, wOff, dy,
                ConvReference.forward(g, xd, wd, true), ConvReference.backward(g, xd, wd, dyd, true),
                ConvReference.forward(g, xd, wd, false), ConvReference.backward(g, xd, wd, dyd, false));
    }

    static ThreadPool pool(int threads) {
        return threads == 1 ? pool1 : pool3;
    }

    static ColumnKernels kernels(String kind) {
        return kind.equals("vector") ? new VectorColumnKernels() : new ScalarColumnKernels();
    }

    /** ||out - ref|| / ||ref|| over ref's length from {@code off} (||out - ref|| if ref is all 0). */
    static double relError(float[] out, int off, double[] ref) {
        double num = 0, den = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = out[off + i] - ref[i];
            num += d * d;
            den += ref[i] * ref[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    private static void check(String what, Case c, float[] out, int off, double[] ref) {
        double e = relError(out, off, ref);
        assertTrue(e <= TOL, what + " " + c.g() + ": relative error " + e);
    }

    /** Runs all four ops on every case and checks results, overwrite/accumulate semantics and reproducibility. */
    private static void runAll(ConvEngine engine) {
        for (Case c : CASES) {
            for (boolean adder : new boolean[] {true, false}) {
                ConvGeometry g = c.g();
                String op = adder ? "adder" : "conv";
                float[] y = new float[g.outputSize()];
                Arrays.fill(y, Float.NaN);
                if (adder) engine.adderForward(g, c.x(), c.w(), c.wOff(), y);
                else engine.convForward(g, c.x(), c.w(), c.wOff(), y);
                check(op + " forward", c, y, 0, adder ? c.adderY() : c.convY());

                int dwOff = 2;
                float[] dx = new float[g.inputSize()];
                Arrays.fill(dx, Float.NaN);
                float[] dw0 = gaussian(new Rng(g.hashCode()), g.filterSize() + dwOff + 5, 1.0);
                float[] dw = dw0.clone();
                backward(engine, adder, c, dx, dw, dwOff);
                check(op + " input grad", c, dx, 0, (adder ? c.adderGrad() : c.convGrad())[0]);
                float[] delta = new float[g.filterSize()];
                for (int i = 0; i < delta.length; i++) delta[i] = dw[dwOff + i] - dw0[dwOff + i];
                check(op + " filter grad", c, delta, 0, (adder ? c.adderGrad() : c.convGrad())[1]);
                for (int i = 0; i < dw.length; i++) {
                    if (i < dwOff || i >= dwOff + g.filterSize()) assertEquals(dw0[i], dw[i], "dw outside the slice");
                }

                // The same call again gives bit-identical results; dx == null skips the input gradient.
                float[] y2 = new float[g.outputSize()];
                if (adder) engine.adderForward(g, c.x(), c.w(), c.wOff(), y2);
                else engine.convForward(g, c.x(), c.w(), c.wOff(), y2);
                assertArrayEquals(y, y2, op + " forward not reproducible " + g);
                float[] dx2 = new float[g.inputSize()];
                float[] dw2 = dw0.clone();
                backward(engine, adder, c, dx2, dw2, dwOff);
                assertArrayEquals(dx, dx2, op + " dx not reproducible " + g);
                assertArrayEquals(dw, dw2, op + " dw not reproducible " + g);
                float[] dw3 = dw0.clone();
                backward(engine, adder, c, null, dw3, dwOff);
                assertArrayEquals(dw, dw3, op + " dw with dx == null " + g);
            }
        }
    }

    private static void backward(ConvEngine e, boolean adder, Case c, float[] dx, float[] dw, int dwOff) {
        if (adder) e.adderBackward(c.g(), c.x(), c.w(), c.wOff(), c.dy(), dx, dw, dwOff);
        else e.convBackward(c.g(), c.x(), c.w(), c.wOff(), c.dy(), dx, dw, dwOff);
    }

    @ParameterizedTest(name = "{0} kernels, {1} threads")
    @CsvSource({"vector,1", "vector,3", "scalar,1", "scalar,3"})
    void matchesReference(String kind, int threads) {
        ConvEngine engine = ConvEngines.create(pool(threads), kind);
        assertEquals(kind.equals("scalar"), engine.kernelName().equals("scalar"));
        runAll(engine);
    }

    /** A tiny workspace budget: many chunks, samples split into several pieces, every remainder path. */
    @ParameterizedTest(name = "{0} kernels, {1} threads, small workspace")
    @CsvSource({"vector,1", "vector,3", "scalar,3"})
    void matchesReferenceWithSmallWorkspace(String kind, int threads) {
        runAll(new ColumnConvEngine(pool(threads), kernels(kind), 3000, 48));
    }

    @Test
    void planIsBoundedAndCoversTheBatch() {
        ColumnConvEngine e = new ColumnConvEngine(pool3, new ScalarColumnKernels());
        ConvGeometry[] gs = {new ConvGeometry(64, 16, 32, 32, 16, 3, 1, 1), new ConvGeometry(256, 120, 1, 1, 84, 1, 1, 0),
            new ConvGeometry(2, 512, 56, 56, 512, 3, 1, 1), new ConvGeometry(1, 3, 224, 224, 64, 7, 2, 3),
            new ConvGeometry(64, 16, 32, 32, 32, 3, 2, 1), new ConvGeometry(32, 128, 28, 28, 256, 3, 2, 1),
            new ConvGeometry(32, 1024, 14, 14, 2048, 1, 2, 0)};
        for (ConvGeometry g : gs) {
            ColumnConvEngine.Plan p = e.plan(g);
            assertTrue((long) p.perChunk() * p.chunks() >= g.n() && (long) p.perChunk() * (p.chunks() - 1) < g.n(), g + " " + p);
            // Workspace floats: x, dx (K rows, or one K-chunk; x all channels in the chunked shifted layout), dy.
            long cols = p.maxCols(), kc = p.kc();
            long floats = !p.chunked(g) ? (2L * g.kk() + g.o()) * cols
                    : p.shifted() ? 2L * Im2col.shiftedPlanes(g) * Im2col.shiftedChannelStride(g, (int) cols) + (kc + g.o()) * cols
                    : (2 * kc + g.o()) * cols;
            assertTrue(floats <= Math.max(ColumnConvEngine.DEFAULT_BUDGET, (2L * g.kk() + g.o()) * 16), g + " " + p);
            // Filter-gradient partials: G of O*K floats, within their budget unless one alone is larger.
            assertTrue(p.groups() >= 1 && p.groups() <= Math.min(p.chunks(), ColumnConvEngine.GROUPS), g + " " + p);
            assertTrue(p.groups() == 1 || (long) p.groups() * g.filterSize() <= ColumnConvEngine.PARTIAL_BUDGET, g + " " + p);
        }
        // 512x512 3x3 filters (2.36M floats): 6 would fit in 16M floats, rounded down to 4 groups.
        assertEquals(4, e.plan(new ConvGeometry(256, 512, 7, 7, 512, 3, 1, 1)).groups());
    }

    /** Both column layouts are exercised by the random cases. */
    @Test
    void casesCoverBothLayouts() {
        ColumnConvEngine e = new ColumnConvEngine(pool3, new ScalarColumnKernels());
        int shifted = 0;
        for (Case c : CASES) if (e.plan(c.g()).shifted()) shifted++;
        assertTrue(shifted >= 5 && CASES.size() - shifted >= 5, shifted + " of " + CASES.size() + " shifted");
    }

    /** Conv2d's analytic gradients against central differences of the float64 forward, loss = sum(y * r). */
    @Test
    void convGradientMatchesFiniteDifferences() {
        ConvGeometry g = new ConvGeometry(2, 3, 5, 4, 3, 3, 2, 1);
        Rng r = new Rng(7);
        float[] x = gaussian(r, g.inputSize(), 1.0), w = gaussian(r, g.filterSize(), 0.5);
        float[] rr = gaussian(r, g.outputSize(), 1.0);
        float[] dx = new float[g.inputSize()], dw = new float[g.filterSize()];
        ConvEngine e = ConvEngines.create(pool3, "auto");
        e.convBackward(g, x, w, 0, rr, dx, dw, 0);
        double[] xd = toDouble(x, 0, x.length), wd = toDouble(w, 0, w.length), rd = toDouble(rr, 0, rr.length);
        double h = 1e-3;
        double[] numDx = new double[xd.length], numDw = new double[wd.length];
        for (int i = 0; i < xd.length; i++) numDx[i] = central(g, xd, wd, rd, xd, i, h);
        for (int i = 0; i < wd.length; i++) numDw[i] = central(g, xd, wd, rd, wd, i, h);
        assertTrue(relError(dx, 0, numDx) < 1e-5, "dx vs finite differences");
        assertTrue(relError(dw, 0, numDw) < 1e-5, "dw vs finite differences");
    }

    private static double central(ConvGeometry g, double[] x, double[] w, double[] r, double[] v, int i, double h) {
        double old = v[i];
        v[i] = old + h;
        double up = dot(ConvReference.forward(g, x, w, false), r);
        v[i] = old - h;
        double down = dot(ConvReference.forward(g, x, w, false), r);
        v[i] = old;
        return (up - down) / (2 * h);
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }
}
