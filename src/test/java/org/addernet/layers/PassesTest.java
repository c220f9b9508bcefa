package org.addernet.layers;

import static org.addernet.layers.LayerThreadBitsTest.assertSameBits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Rng;
import org.addernet.engine.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The passes outside the kernels: the sums are their 8-lane definition bit for bit, the branch-free ReLU mask is
 * Java's float comparison on every kind of float, the float elementwise passes stay within float rounding of the
 * double formulas on adder-like data, the fused BatchNorm + ReLU equals BatchNorm then ReLU, the fused residual
 * equals its unfused arithmetic, and the 8-lane statistics stay within float rounding of a plain sum.
 */
class PassesTest {
    /** Plane lengths: every remainder mod 8, below and above one vector, and ResNet-sized planes. */
    static final int[] LENGTHS = {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 100, 784, 1024, 1031};

    private static float[] random(int n, long seed, double mean, double sd) {
        Rng r = new Rng(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (mean + sd * r.nextGaussian());
        return a;
    }

    /** Values around 0 with exact zeros, negative zeros and a NaN mixed in: what ReLU and its mask must get right. */
    private static float[] edgy(int n, long seed) {
        float[] a = random(n, seed, 0, 1);
        for (int i = 0; i < n; i += 5) a[i] = (i / 5) % 3 == 0 ? 0f : (i / 5) % 3 == 1 ? -0f : a[i];
        if (n > 11) a[11] = Float.NaN;
        return a;
    }

    private static long[] bits(double[] a) {
        long[] b = new long[a.length];
        for (int i = 0; i < a.length; i++) b[i] = Double.doubleToRawLongBits(a[i]);
        return b;
    }

    /** The reference of every ReLU mask: Java's float comparison. */
    private static float refSelect(float m, float g) {
        return m > 0f ? g : 0f;
    }

    /**
     * The lane and run definition of {@link Passes#moments}, one value at a time: within each run of {@code RUN}
     * values a float partial per lane {@code j % 8} from 0, added to the double lane at the run's end; the plane's last
     * {@code len % 8} values straight into their double lanes.
     */
    private static void refRuns(float[] v, double[] tail, double[] lanes) {
        int whole = v.length - v.length % 8;
        float[] part = new float[8];
        for (int j = 0; j < whole; j++) {
            part[j % 8] += v[j];
            if ((j + 1) % Passes.RUN == 0 || j + 1 == whole) {
                for (int k = 0; k < 8; k++) lanes[k] += part[k];
                Arrays.fill(part, 0f);
            }
        }
        for (int j = whole; j < v.length; j++) lanes[j % 8] += tail == null ? v[j] : tail[j];
    }

    private static void refMoments(float[] x, int off, int len, float shift, double[] lanes1, double[] lanes2) {
        float[] d = new float[len], dd = new float[len];
        double[] exact = new double[len];
        for (int j = 0; j < len; j++) {
            d[j] = x[off + j] - shift;
            dd[j] = d[j] * d[j];
            exact[j] = (double) d[j] * d[j];
        }
        refRuns(d, null, lanes1);
        refRuns(dd, exact, lanes2);
    }

    @Test
    void sumsAreTheEightLaneDefinitionBitForBit() {
        // The reference is the definition, lane j % 8 of a plane, one value at a time (an independent loop shape).
        Passes s = Passes.get();
        int off = 5; // planes do not start at a vector boundary
        double mean = -301.25;
        for (int len : LENGTHS) {
            int n = off + len + 3;
            float[] x = random(n, len, -300, 20), dy = random(n, len + 1, 0, 0.01), mask = edgy(n, len + 2);
            double[] got1 = random8(len), got2 = random8(len + 1), want1 = got1.clone(), want2 = got2.clone();
            float shift = -301.25f;
            s.moments(x, off, len, shift, got1, got2);
            refMoments(x, off, len, shift, want1, want2);
            assertEquals(Arrays.toString(bits(want1)), Arrays.toString(bits(got1)), "sum of deviations, length " + len);
            assertEquals(Arrays.toString(bits(want2)), Arrays.toString(bits(got2)), "sum of squared deviations, length " + len);
            for (float[] m : new float[][] {null, mask}) {
                float[] d = dy.clone(), wantD = dy.clone();
                double[] g = random8(len + 7), gd = random8(len + 8), wg = g.clone(), wgd = gd.clone();
                s.gradientSums(x, d, m, d, off, len, mean, g, gd);
                for (int j = 0; j < len; j++) {
                    int i = off + j;
                    float v = m == null ? dy[i] : refSelect(m[i], dy[i]);
                    wantD[i] = v;
                    wg[j % 8] += v;
                    wgd[j % 8] += v * (x[i] - mean);
                }
                String what = (m == null ? "" : "masked ") + "length " + len;
                assertSameBits(wantD, d, "gradient sums' dy, " + what);
                assertEquals(Arrays.toString(bits(wg)), Arrays.toString(bits(g)), "sum of dy, " + what);
                assertEquals(Arrays.toString(bits(wgd)), Arrays.toString(bits(gd)), "sum of dy*(x-mean), " + what);
            }
            float[] d = dy.clone(), c = new float[n], wantR = dy.clone();
            s.reluGradient(mask, d, c, off, off + len);
            for (int i = off; i < off + len; i++) wantR[i] = refSelect(mask[i], dy[i]);
            assertSameBits(wantR, d, "relu gradient, length " + len);
            assertSameBits(Arrays.copyOfRange(wantR, off, off + len), Arrays.copyOfRange(c, off, off + len), "relu gradient copy, length " + len);
        }
    }

    @Test
    void branchFreeSelectIsTheFloatComparisonOnEveryKindOfFloat() {
        float[] special = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, 1f, -1f, Float.MAX_VALUE, -Float.MAX_VALUE,
            Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, Float.intBitsToFloat(0x7f800001), Float.intBitsToFloat(0x7fffffff),
            Float.intBitsToFloat(0xff800001), Float.intBitsToFloat(0xffc00000), Float.intBitsToFloat(0x7f7fffff)};
        Rng r = new Rng(17);
        float[] ms = new float[special.length + 20_000];
        System.arraycopy(special, 0, ms, 0, special.length);
        for (int i = special.length; i < ms.length; i++) ms[i] = Float.intBitsToFloat((int) r.nextLong()); // any bit pattern
        for (float m : ms) {
            for (float g : special) {
                int want = Float.floatToRawIntBits(refSelect(m, g)), got = Float.floatToRawIntBits(ScalarPasses.select(m, g));
                if (want != got) assertEquals(want, got, "select(m=0x" + Integer.toHexString(Float.floatToRawIntBits(m)) + ", g=" + g + ")");
            }
        }
    }

    @Test
    void floatNormalizationAndInputGradientAreWithinFloatRoundingOfTheDoubleFormulas() {
        // Adder-like values (mean -1200, sd 2): x*scale + shift in float would lose ~10 bits here; the split mean
        // keeps the deviation exact, so each value is within a few float roundings of the double formula.
        Passes s = Passes.get();
        int len = 4099;
        float[] x = random(len, 21, -1200, 2), dy0 = random(len, 22, 0, 0.01);
        double mean = -1200.0123456789, scale = 0.4321, beta = 0.25, gInv = 0.7, k1 = 1e-3, k2 = -2e-4;
        float mh = (float) mean, ml = (float) (mean - mh);
        float[] y = new float[len], dy = dy0.clone();
        s.normalize(x, y, 0, len, mh, ml, (float) scale, (float) beta, false);
        s.inputGradient(x, dy, 0, len, mh, ml, (float) gInv, (float) k1, (float) k2);
        double worstY = 0, worstDx = 0;
        for (int i = 0; i < len; i++) {
            double d = x[i] - mean, wantY = d * scale + beta, wantDx = gInv * (dy0[i] - k1 - d * k2);
            // In units of the float rounding of the largest term of each sum (|d*scale|, |beta|; |dy|, |k1|, |d*k2|).
            double ulpY = Math.ulp((float) Math.max(Math.abs(d * scale), Math.abs(beta)));
            double ulpDx = Math.ulp((float) (gInv * Math.max(Math.abs(dy0[i]), Math.max(Math.abs(k1), Math.abs(d * k2)))));
            worstY = Math.max(worstY, Math.abs(y[i] - wantY) / ulpY);
            worstDx = Math.max(worstDx, Math.abs(dy[i] - wantDx) / ulpDx);
        }
        assertTrue(worstY <= 3, "normalize within 3 float roundings of the double formula: " + worstY);
        assertTrue(worstDx <= 4, "input gradient within 4 float roundings of the double formula: " + worstDx);
        // The split matters: with the mean as one float the same data is off by far more than that.
        float[] y1 = new float[len];
        s.normalize(x, y1, 0, len, (float) mean, 0f, (float) scale, (float) beta, false);
        double worst1 = 0;
        for (int i = 0; i < len; i++) {
            double d = x[i] - mean;
            worst1 = Math.max(worst1, Math.abs(y1[i] - (d * scale + beta)) / Math.ulp((float) Math.max(Math.abs(d * scale), Math.abs(beta))));
        }
        assertTrue(worst1 > 10, "one-float mean is visibly worse: " + worst1);
    }

    private static double[] random8(long seed) {
        Rng r = new Rng(seed);
        double[] a = new double[Passes.LANES];
        for (int i = 0; i < a.length; i++) a[i] = r.nextGaussian();
        return a;
    }

    @Test
    void reluGradientAndRectifierFollowPyTorch() {
        float[] y = {1f, 0f, -0f, -1f, Float.NaN, 2.5f}, dy = {3f, 3f, 3f, 3f, 3f, -0f};
        float[] want = {3f, 0f, 0f, 0f, 0f, -0f}; // passes where the output is positive only
        for (Passes p : List.of(Passes.get())) {
            float[] d = dy.clone();
            p.reluGradient(y, d, null, 0, y.length);
            assertSameBits(want, d, p.name() + " relu gradient");
            float[] out = new float[y.length];
            p.normalize(y, out, 0, y.length, 0f, 0f, 1f, 0f, true);
            assertSameBits(new float[] {1f, 0f, 0f, 0f, Float.NaN, 2.5f}, out, p.name() + " relu of (x - 0) * 1 + 0");
        }
    }

    @Test
    void eightLaneStatisticsAreWithinRoundingOfAPlainSum() {
        // Adder-like values: large negative mean, small spread; the moments about a shift keep the variance's digits.
        for (int len : new int[] {7, 1024, 100_003}) {
            float[] x = random(len, 3, -1200, 2);
            for (Passes p : List.of(Passes.get())) {
                // As BatchNorm2d: a shift from a first pass over part of the data, then the moments about it; and
                // a shift 10 spreads off the mean (a first plane far from the rest) must keep the variance too.
                double[] l1 = new double[Passes.LANES], l2 = new double[Passes.LANES];
                int head = Math.min(len, 1024);
                p.moments(x, 0, head, 0f, l1, l2);
                float near = (float) (Passes.total(l1) / head);
                double[] means = new double[2], vars = new double[2];
                float[] shifts = {near, near + 20f};
                for (int k = 0; k < 2; k++) {
                    Arrays.fill(l1, 0);
                    Arrays.fill(l2, 0);
                    p.moments(x, 0, len, shifts[k], l1, l2);
                    double d1 = Passes.total(l1) / len;
                    means[k] = shifts[k] + d1;
                    vars[k] = Passes.total(l2) / len - d1 * d1;
                }
                // Reference: compensated (Kahan) sums, an independent order.
                double s = 0, comp = 0;
                for (float v : x) {
                    double yk = v - comp, t = s + yk;
                    comp = (t - s) - yk;
                    s = t;
                }
                double refMean = s / len, ss = 0;
                comp = 0;
                for (float v : x) {
                    double d = v - refMean, yk = d * d - comp, t = ss + yk;
                    comp = (t - ss) - yk;
                    ss = t;
                }
                double refVar = ss / len;
                for (int k = 0; k < 2; k++) {
                    // A float rounding is 6e-8 of a value: the variance about a near shift stays within a third of
                    // one (measured 5e-9), about a shift 10 spreads off within 16 (measured 1.8e-7: the float runs'
                    // squares, 100x larger, then cancel); the mean to double precision.
                    String at = ", length " + len + ", shift " + shifts[k];
                    assertEquals(refMean, means[k], Math.abs(refMean) * 1e-14, p.name() + " mean" + at);
                    assertEquals(refVar, vars[k], refVar * (k == 0 ? 2e-8 : 1e-6), p.name() + " variance" + at);
                }
            }
        }
    }

    /** A BN layer with fixed non-trivial parameters and running statistics. */
    private record Bn(BatchNorm2d layer, Params params) {}

    private static Bn bn(Engine e, int c, boolean relu) {
        Params.Builder pb = new Params.Builder();
        BatchNorm2d b = new BatchNorm2d(e, pb, "bn", c);
        Params p = pb.build();
        b.init();
        Rng r = new Rng(9);
        for (int i = 0; i < p.data.length; i++) p.data[i] = (float) (0.2 + r.nextGaussian() * 0.5);
        for (int i = 0; i < c; i++) p.buffers[p.view("bn.running_mean").offset() + i] = (float) (-40 + r.nextGaussian());
        b.setRelu(relu);
        return new Bn(b, p);
    }


    private static Tensor tensor(int[] s, long seed, double mean, double sd) {
        return new Tensor(s[0], s[1], s[2], s[3], random(s[0] * s[1] * s[2] * s[3], seed, mean, sd));
    }

    @Test
    void fusedBatchNormReluEqualsBatchNormThenRelu() {
        int[][] shapes = {{5, 3, 7, 9}, {3, 20, 31, 29}, {9, 10, 1, 1}};
        for (int threads : new int[] {1, 3}) {
            try (Engine e = Engine.create(threads, "auto")) {
                for (int[] s : shapes) {
                    Bn f = bn(e, s[1], true), pl = bn(e, s[1], false);
                    BatchNorm2d fused = f.layer(), plain = pl.layer();
                    ReLU relu = new ReLU(true);
                    // Centered so that about half the outputs are clamped.
                    Tensor x = tensor(s, 1, -40, 3), dy = tensor(s, 2, 0, 1);
                    float[] yf = fused.forward(x, true).data.clone();
                    float[] yp = relu.forward(plain.forward(x, true), true).data.clone();
                    String at = Arrays.toString(s) + " at " + threads + " threads";
                    assertSameBits(Arrays.copyOf(yp, x.size()), Arrays.copyOf(yf, x.size()), "forward " + at);
                    int zeros = 0;
                    for (int i = 0; i < x.size(); i++) if (yf[i] == 0f) zeros++;
                    assertTrue(zeros > 0 && zeros < x.size(), "the ReLU clamps part of the outputs: " + zeros + " of " + x.size());
                    Tensor dyf = new Tensor(s[0], s[1], s[2], s[3], dy.data.clone()), dyp = new Tensor(s[0], s[1], s[2], s[3], dy.data.clone());
                    float[] dxf = fused.backward(dyf).data, dxp = plain.backward(relu.backward(dyp)).data;
                    assertSameBits(Arrays.copyOf(dxp, x.size()), Arrays.copyOf(dxf, x.size()), "dx " + at);
                    assertSameBits(pl.params().grad, f.params().grad, "gamma/beta gradients " + at);
                    assertSameBits(pl.params().buffers, f.params().buffers, "running statistics " + at);
                    // Eval mode, in place on the input as the models run it.
                    fused.setInPlaceEval(true);
                    Tensor xe = tensor(s, 3, -40, 3);
                    float[] want = relu.forward(plain.forward(xe, false), false).data.clone();
                    Tensor ye = fused.forward(xe, false);
                    assertTrue(ye == xe, "in place");
                    assertSameBits(Arrays.copyOf(want, x.size()), Arrays.copyOf(ye.data, x.size()), "eval forward " + at);
                }
            }
        }
    }

    /** A layer that scales by a constant: main branch / shortcut of a residual block with a known gradient. */
    private static final class Scale implements Layer {
        final float k;
        Tensor y;

        Scale(float k) {
            this.k = k;
        }

        @Override
        public Tensor forward(Tensor x, boolean training) {
            y = Tensor.reuse(y, x.n, x.c, x.h, x.w);
            for (int i = 0; i < x.size(); i++) y.data[i] = k * x.data[i];
            return y;
        }

        @Override
        public Tensor backward(Tensor dy) {
            for (int i = 0; i < dy.size(); i++) dy.data[i] *= k;
            return dy;
        }

        @Override
        public Costs.Act describe(Costs.Act x, Costs costs) {
            return x;
        }
    }

    @Test
    void fusedResidualEqualsItsArithmeticAtEveryThreadCount() {
        int[] s = {3, 16, 33, 31}; // above the parallel threshold, not a multiple of the block or the vector
        Tensor x = tensor(s, 4, 0, 1), dy = tensor(s, 5, 0, 1);
        int size = x.size();
        float[] wantY = new float[size], wantDx = new float[size];
        for (int i = 0; i < size; i++) {
            float m = 1.5f * x.data[i], sh = -0.75f * x.data[i];
            wantY[i] = Math.max(m + sh, 0f);
            float g = wantY[i] > 0f ? dy.data[i] : 0f;
            wantDx[i] = 1.5f * g + -0.75f * g;
        }
        for (int threads : LayerThreadBitsTest.THREADS) {
            try (Engine e = Engine.create(threads, "auto")) {
                for (Engine withPool : new Engine[] {e, null}) {
                    Residual r = new Residual(withPool, "block", new Scale(1.5f), new Scale(-0.75f), true);
                    Tensor y = r.forward(x, true);
                    String at = threads + " threads" + (withPool == null ? " (no pool)" : "");
                    assertSameBits(wantY, Arrays.copyOf(y.data, size), "residual forward at " + at);
                    Tensor dx = r.backward(new Tensor(s[0], s[1], s[2], s[3], dy.data.clone()));
                    assertNotNull(dx);
                    assertSameBits(wantDx, Arrays.copyOf(dx.data, size), "residual dx at " + at);
                }
            }
        }
    }

    @Test
    void residualSumFusedIntoTheLastBatchNormEqualsBatchNormThenTheSum() {
        // relu(bn(x) + shortcut(x)) with the sum, the ReLU, the mask and the shortcut's copy of the gradient inside the
        // BatchNorm's passes, against BatchNorm alone and the sum's arithmetic written out here, bit for bit: forward
        // (train and eval), dx, the parameter gradients and the running statistics; identity and scaled shortcuts.
        int[][] shapes = {{5, 3, 7, 9}, {3, 20, 31, 29}, {9, 10, 1, 1}};
        for (int threads : LayerThreadBitsTest.THREADS) {
            try (Engine e = Engine.create(threads, "auto")) {
                for (int[] s : shapes) {
                    for (boolean identity : new boolean[] {true, false}) {
                        Bn f = bn(e, s[1], false), pl = bn(e, s[1], false);
                        Scale scale = new Scale(-0.75f);
                        Residual block = new Residual(e, "block", new Sequential(List.of(f.layer())), identity ? null : scale, true);
                        int size = s[0] * s[1] * s[2] * s[3];
                        Tensor x = tensor(s, 11, 0, 1), dy = tensor(s, 12, 0, 1); // centered: the sum clamps part
                        String at = Arrays.toString(s) + (identity ? " identity" : " scaled") + " at " + threads + " threads";
                        float[] sc = new float[size];
                        for (int i = 0; i < size; i++) sc[i] = identity ? x.data[i] : -0.75f * x.data[i];
                        // Reference: BatchNorm's output, then max(m + s, 0) and its mask, by hand.
                        float[] m = Arrays.copyOf(pl.layer().forward(x, true).data, size), want = new float[size];
                        for (int i = 0; i < size; i++) want[i] = Math.max(m[i] + sc[i], 0f);
                        float[] y = Arrays.copyOf(block.forward(x, true).data, size);
                        assertSameBits(want, y, "forward " + at);
                        int zeros = 0;
                        for (float v : y) if (v == 0f) zeros++;
                        assertTrue(zeros > 0 && zeros < size, "the ReLU clamps part of the outputs: " + zeros + " of " + size);
                        float[] g = new float[size], wantDx = new float[size];
                        for (int i = 0; i < size; i++) g[i] = want[i] > 0f ? dy.data[i] : 0f;
                        float[] dxBn = pl.layer().backward(new Tensor(s[0], s[1], s[2], s[3], g.clone())).data;
                        for (int i = 0; i < size; i++) wantDx[i] = dxBn[i] + (identity ? g[i] : -0.75f * g[i]);
                        Tensor dx = block.backward(new Tensor(s[0], s[1], s[2], s[3], dy.data.clone()));
                        assertSameBits(wantDx, Arrays.copyOf(dx.data, size), "dx " + at);
                        assertSameBits(pl.params().grad, f.params().grad, "gamma/beta gradients " + at);
                        assertSameBits(pl.params().buffers, f.params().buffers, "running statistics " + at);
                        // Eval mode of a training model (running statistics), in place on the BN's input as the models run it.
                        f.layer().setInPlaceEval(true);
                        Tensor xe = tensor(s, 13, 0, 1);
                        float[] me = Arrays.copyOf(pl.layer().forward(xe, false).data, size), wantE = new float[size];
                        for (int i = 0; i < size; i++) wantE[i] = Math.max(me[i] + (identity ? xe.data[i] : -0.75f * xe.data[i]), 0f);
                        assertSameBits(wantE, Arrays.copyOf(block.forward(xe, false).data, size), "eval forward " + at);
                    }
                }
            }
        }
    }
}
