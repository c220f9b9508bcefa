package org.addernet.kernels;

/**
 * The {@link ColumnKernels} contracts in plain Java loops: what runs when the JVM was started without
 * {@code --add-modules=jdk.incubator.vector}. About 20x slower than {@link VectorColumnKernels}, because C2
 * does not auto-vectorize these loops; layouts as in {@link ColumnKernels}.
 */
final class ScalarColumnKernels implements ColumnKernels {
    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public int columnMultiple() {
        return 16;
    }

    @Override
    public void adderForward(int o, int kk, int ld, float[] w, int wOff, float[] x, int[] xRow, float[] y) {
        float[] block = kk > KB ? new float[ld] : null;
        for (int r = 0; r < o; r++) {
            int yr = r * ld;
            int wr = wOff + r * kk;
            for (int k0 = 0; k0 < kk; k0 += KB) {
                // The first block sums into y itself, the others into a scratch row then added to y (KB blocks).
                float[] b = k0 == 0 ? y : block;
                int br = k0 == 0 ? yr : 0;
                java.util.Arrays.fill(b, br, br + ld, 0f);
                // k outer, p inner: the row stays in L1 while x streams by
                for (int k = k0; k < Math.min(kk, k0 + KB); k++) {
                    float wk = w[wr + k];
                    int xk = xRow[k];
                    for (int p = 0; p < ld; p++) b[br + p] -= Math.abs(x[xk + p] - wk);
                }
                if (k0 > 0) {
                    for (int p = 0; p < ld; p++) y[yr + p] += block[p];
                }
            }
        }
    }

    @Override
    public void adderForwardNonNegative(int o, int kk, int ld, float[] w, int wOff, float[] x, int[] xRow, float[] y) {
        int nb = (kk + KB - 1) / KB;
        float[] nw = new float[o * nb], m = new float[ld], xs = new float[nb * ld];
        negatedBlockSums(o, kk, w, wOff, nw);
        // X per block and column once for every row (the same sums from +0 in k order).
        for (int k0 = 0, b = 0; k0 < kk; k0 += KB, b++) {
            for (int k = k0; k < Math.min(kk, k0 + KB); k++) {
                int xk = xRow[k];
                for (int p = 0; p < ld; p++) xs[b * ld + p] += x[xk + p];
            }
        }
        for (int r = 0; r < o; r++) {
            int yr = r * ld, wr = wOff + r * kk;
            java.util.Arrays.fill(y, yr, yr + ld, 0f);
            for (int k0 = 0, b = 0; k0 < kk; k0 += KB, b++) {
                java.util.Arrays.fill(m, 0f);
                for (int k = k0; k < Math.min(kk, k0 + KB); k++) {
                    float wk = w[wr + k];
                    int xk = xRow[k];
                    for (int p = 0; p < ld; p++) m[p] += Math.max(wk, x[xk + p]); // = the vector kernels' int max of the bits, for x >= +0
                }
                float v = nw[r * nb + b];
                for (int p = 0; p < ld; p++) y[yr + p] -= Math.fma(m[p], 2f, v - xs[b * ld + p]);
            }
        }
    }

    /** {@code nw[r * nb + b] = -(w[k0] + w[k0 + 1] + ...)}, block b's taps of filter row r summed from +0 in k order. */
    static void negatedBlockSums(int o, int kk, float[] w, int wOff, float[] nw) {
        int nb = (kk + KB - 1) / KB;
        for (int r = 0; r < o; r++) {
            for (int k0 = 0, b = 0; k0 < kk; k0 += KB, b++) {
                float s = 0f;
                for (int k = k0; k < Math.min(kk, k0 + KB); k++) s += w[wOff + r * kk + k];
                nw[r * nb + b] = -s;
            }
        }
    }

    @Override
    public boolean nonNegativeFinite(float[] x, int from, int to) {
        for (int i = from; i < to; i++) if (Integer.compareUnsigned(Float.floatToRawIntBits(x[i]), 0x7f800000) >= 0) return false;
        return true;
    }

    @Override
    public void multiply(int rows, int inner, int ld, float[] a, int aOff, float[] b, int[] bRow, float[] out) {
        for (int r = 0; r < rows; r++) {
            int or = r * ld;
            java.util.Arrays.fill(out, or, or + ld, 0f);
            int ar = aOff + r * inner;
            for (int i = 0; i < inner; i++) {
                float ai = a[ar + i];
                int bi = bRow[i];
                for (int p = 0; p < ld; p++) out[or + p] += ai * b[bi + p];
            }
        }
    }

    @Override
    public void convForward(int rows, int kk, int ld, float[] w, int wOff, int ws, float[] x, int[] xRow, float[] out, boolean accumulate) {
        float[] s = new float[ld];
        for (int r = 0; r < rows; r++) {
            int or = r * ld, wr = wOff + r * ws;
            for (int k0 = 0; k0 < kk; k0 += KB) {
                java.util.Arrays.fill(s, 0f);
                for (int k = k0; k < Math.min(kk, k0 + KB); k++) {
                    float wk = w[wr + k];
                    int xk = xRow[k];
                    for (int p = 0; p < ld; p++) s[p] += wk * x[xk + p];
                }
                if (accumulate || k0 > 0) {
                    for (int p = 0; p < ld; p++) out[or + p] += s[p];
                } else {
                    System.arraycopy(s, 0, out, or, ld);
                }
            }
        }
    }

    @Override
    public void adderInputGrad(int o, int kk, int ld, float[] wt, int wtOff, float[] x, int[] xRow, float[] dy, float[] dx) {
        for (int k = 0; k < kk; k++) {
            int xk = xRow[k], dk = k * ld;
            java.util.Arrays.fill(dx, dk, dk + ld, 0f);
            for (int r = 0; r < o; r++) {
                float wk = wt[wtOff + k * o + r];
                int dr = r * ld;
                for (int p = 0; p < ld; p++) {
                    float d = wk - x[xk + p];
                    dx[dk + p] += Math.max(-1f, Math.min(1f, d)) * dy[dr + p];
                }
            }
        }
    }

    @Override
    public void filterGrad(int o, int kk, int ld, float[] dy, float[] x, int[] xRow, float[] dw, int dwOff, int dwStride) {
        for (int r = 0; r < o; r++) {
            int dr = r * ld;
            for (int k = 0; k < kk; k++) {
                int xk = xRow[k];
                float s = 0f;
                for (int p = 0; p < ld; p++) s += dy[dr + p] * x[xk + p];
                dw[dwOff + r * dwStride + k] += s;
            }
        }
    }

    @Override
    public void addTo(float[] src, int s0, float[] dst, int d0, int len) {
        for (int i = 0; i < len; i++) dst[d0 + i] += src[s0 + i];
    }

    @Override
    public void adderFilterGrad(int o, int kk, int ld, float[] dy, float[] x, int[] xRow, float[] w, int wOff, int wStride,
                                float[] dw, int dwOff, int dwStride) {
        for (int r = 0; r < o; r++) {
            int dr = r * ld;
            for (int k = 0; k < kk; k++) {
                int xk = xRow[k];
                float wk = w[wOff + r * wStride + k];
                float s = 0f;
                for (int p = 0; p < ld; p++) s += dy[dr + p] * (x[xk + p] - wk);
                dw[dwOff + r * dwStride + k] += s;
            }
        }
    }

    @Override
    public void adderForwardChunk(int o, int kk, int ld, float[] w, int wOff, int wStride, float[] x, int[] xRow,
                                  float[] t) {
        float[] block = new float[ld];
        for (int r = 0; r < o; r++) {
            int tr = r * ld, wr = wOff + r * wStride;
            for (int k0 = 0; k0 < kk; k0 += KB) {
                java.util.Arrays.fill(block, 0f);
                for (int k = k0; k < Math.min(kk, k0 + KB); k++) {
                    float wk = w[wr + k];
                    int xk = xRow[k];
                    for (int p = 0; p < ld; p++) block[p] = Math.abs(x[xk + p] - wk) + block[p];
                }
                for (int p = 0; p < ld; p++) t[tr + p] = block[p] + t[tr + p];
            }
        }
    }
}
