package org.addernet.layers;

/**
 * {@link Passes} in plain Java, written for C2: the elementwise passes are counted int loops over float arrays with
 * one index for every array and float arithmetic only, which JDK 17's superword pass vectorizes (measured
 * single-threaded on a 1 MB plane: the normalization 0.11 ns per value against 0.84 with {@code -XX:-UseSuperWord},
 * and against 0.5-0.7 for the former double form, whose conversions C2 leaves scalar). The sums keep the eight
 * lanes in local variables (eight independent add chains; C2 vectorizes no reduction here). The ReLU masks select
 * with integer bit operations: a float {@code c ? dy : 0f} is a branch on x86 (no float cmov), mispredicted half
 * the time on activations (4.8 ns per value measured, 0.5 with the bit form).
 */
final class ScalarPasses extends Passes {
    @Override
    String name() {
        return "scalar";
    }

    /**
     * All ones when {@code m > 0f}, else 0, from {@code m}'s bits {@code b}: {@code m > 0f} exactly when
     * {@code 0 < b <= 0x7f800000} as a signed int (+0 is 0, every negative float and -0 have the sign bit, NaNs are
     * above +Inf). {@code -b & ~b} has the sign bit for {@code b > 0}, {@code b - 0x7f800001} for {@code b <= +Inf}.
     */
    static int positiveMask(float m) {
        int b = Float.floatToRawIntBits(m);
        return ((-b & ~b) & (b - 0x7f800001)) >> 31;
    }

    /** {@code m > 0f ? g : 0f} (+0 when not), without a branch. */
    static float select(float m, float g) {
        return Float.intBitsToFloat(Float.floatToRawIntBits(g) & positiveMask(m));
    }

    @Override
    void moments(float[] x, int off, int len, float shift, double[] lanes1, double[] lanes2) {
        int whole = len & ~7;
        for (int r = 0; r < whole; r += RUN) {
            int end = Math.min(whole, r + RUN);
            float a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
            float q0 = 0, q1 = 0, q2 = 0, q3 = 0, q4 = 0, q5 = 0, q6 = 0, q7 = 0;
            for (int j = r; j < end; j += LANES) {
                int i = off + j;
                float d0 = x[i] - shift;
                float d1 = x[i + 1] - shift;
                float d2 = x[i + 2] - shift;
                float d3 = x[i + 3] - shift;
                float d4 = x[i + 4] - shift;
                float d5 = x[i + 5] - shift;
                float d6 = x[i + 6] - shift;
                float d7 = x[i + 7] - shift;
                a0 += d0;
                a1 += d1;
                a2 += d2;
                a3 += d3;
                a4 += d4;
                a5 += d5;
                a6 += d6;
                a7 += d7;
                q0 += d0 * d0;
                q1 += d1 * d1;
                q2 += d2 * d2;
                q3 += d3 * d3;
                q4 += d4 * d4;
                q5 += d5 * d5;
                q6 += d6 * d6;
                q7 += d7 * d7;
            }
            lanes1[0] += a0;
            lanes1[1] += a1;
            lanes1[2] += a2;
            lanes1[3] += a3;
            lanes1[4] += a4;
            lanes1[5] += a5;
            lanes1[6] += a6;
            lanes1[7] += a7;
            lanes2[0] += q0;
            lanes2[1] += q1;
            lanes2[2] += q2;
            lanes2[3] += q3;
            lanes2[4] += q4;
            lanes2[5] += q5;
            lanes2[6] += q6;
            lanes2[7] += q7;
        }
        for (int j = whole; j < len; j++) {
            float d = x[off + j] - shift;
            lanes1[j & 7] += d;
            lanes2[j & 7] += (double) d * d; // exact
        }
    }

    @Override
    void normalize(float[] x, float[] y, int off, int len, float meanHi, float meanLo, float scale, float beta, boolean relu) {
        int end = off + len;
        if (relu) {
            for (int i = off; i < end; i++) y[i] = Math.max(((x[i] - meanHi) - meanLo) * scale + beta, 0f);
        } else {
            for (int i = off; i < end; i++) y[i] = ((x[i] - meanHi) - meanLo) * scale + beta;
        }
    }

    @Override
    void gradientSums(float[] x, float[] dy, float[] mask, float[] out, int off, int len, double mean, double[] lanesG, double[] lanesGD) {
        // One pass: the branch-free mask (written to out) and the two sums in 8 + 8 local lanes; `mask != null` is
        // loop-invariant, so C2 unswitches the loop on it.
        double g0 = lanesG[0], g1 = lanesG[1], g2 = lanesG[2], g3 = lanesG[3], g4 = lanesG[4], g5 = lanesG[5], g6 = lanesG[6], g7 = lanesG[7];
        double h0 = lanesGD[0], h1 = lanesGD[1], h2 = lanesGD[2], h3 = lanesGD[3], h4 = lanesGD[4], h5 = lanesGD[5], h6 = lanesGD[6], h7 = lanesGD[7];
        int j = 0;
        for (; j + LANES <= len; j += LANES) {
            int i = off + j;
            float e0 = dy[i], e1 = dy[i + 1], e2 = dy[i + 2], e3 = dy[i + 3], e4 = dy[i + 4], e5 = dy[i + 5], e6 = dy[i + 6], e7 = dy[i + 7];
            if (mask != null) {
                e0 = select(mask[i], e0);
                e1 = select(mask[i + 1], e1);
                e2 = select(mask[i + 2], e2);
                e3 = select(mask[i + 3], e3);
                e4 = select(mask[i + 4], e4);
                e5 = select(mask[i + 5], e5);
                e6 = select(mask[i + 6], e6);
                e7 = select(mask[i + 7], e7);
                out[i] = e0;
                out[i + 1] = e1;
                out[i + 2] = e2;
                out[i + 3] = e3;
                out[i + 4] = e4;
                out[i + 5] = e5;
                out[i + 6] = e6;
                out[i + 7] = e7;
            }
            g0 += e0;
            g1 += e1;
            g2 += e2;
            g3 += e3;
            g4 += e4;
            g5 += e5;
            g6 += e6;
            g7 += e7;
            h0 += e0 * (x[i] - mean);
            h1 += e1 * (x[i + 1] - mean);
            h2 += e2 * (x[i + 2] - mean);
            h3 += e3 * (x[i + 3] - mean);
            h4 += e4 * (x[i + 4] - mean);
            h5 += e5 * (x[i + 5] - mean);
            h6 += e6 * (x[i + 6] - mean);
            h7 += e7 * (x[i + 7] - mean);
        }
        lanesG[0] = g0;
        lanesG[1] = g1;
        lanesG[2] = g2;
        lanesG[3] = g3;
        lanesG[4] = g4;
        lanesG[5] = g5;
        lanesG[6] = g6;
        lanesG[7] = g7;
        lanesGD[0] = h0;
        lanesGD[1] = h1;
        lanesGD[2] = h2;
        lanesGD[3] = h3;
        lanesGD[4] = h4;
        lanesGD[5] = h5;
        lanesGD[6] = h6;
        lanesGD[7] = h7;
        for (; j < len; j++) {
            int i = off + j;
            float g = dy[i];
            if (mask != null) {
                g = select(mask[i], g);
                out[i] = g;
            }
            lanesG[j & 7] += g;
            lanesGD[j & 7] += g * (x[i] - mean);
        }
    }

    @Override
    void inputGradient(float[] x, float[] g, float[] dx, int off, int len, float meanHi, float meanLo, float gInv, float k1, float k2) {
        int end = off + len;
        for (int i = off; i < end; i++) dx[i] = gInv * ((g[i] - k1) - ((x[i] - meanHi) - meanLo) * k2);
    }

    @Override
    void reluGradient(float[] y, float[] dy, float[] copy, int from, int to) {
        if (copy == null) {
            for (int i = from; i < to; i++) dy[i] = select(y[i], dy[i]);
        } else {
            for (int i = from; i < to; i++) {
                float g = select(y[i], dy[i]);
                dy[i] = g;
                copy[i] = g;
            }
        }
    }
}
