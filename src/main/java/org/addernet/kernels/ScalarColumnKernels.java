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
    public void adderForward(int o, int kk, int ld, float[] w, int wOff, float[] x, float[] y) {
        for (int r = 0; r < o; r++) {
            int yr = r * ld;
            java.util.Arrays.fill(y, yr, yr + ld, 0f);
            int wr = wOff + r * kk;
            // k outer, p inner: each y row stays in L1 while x streams by
            for (int k = 0; k < kk; k++) {
                float wk = w[wr + k];
                int xk = k * ld;
                for (int p = 0; p < ld; p++) y[yr + p] -= Math.abs(x[xk + p] - wk);
            }
        }
    }

    @Override
    public void multiply(int rows, int inner, int ld, float[] a, int aOff, float[] b, float[] out) {
        for (int r = 0; r < rows; r++) {
            int or = r * ld;
            java.util.Arrays.fill(out, or, or + ld, 0f);
            int ar = aOff + r * inner;
            for (int i = 0; i < inner; i++) {
                float ai = a[ar + i];
                int bi = i * ld;
                for (int p = 0; p < ld; p++) out[or + p] += ai * b[bi + p];
            }
        }
    }

    @Override
    public void adderInputGrad(int o, int kk, int ld, float[] wtHi, float[] wtLo, float[] x, float[] dy, float[] dx) {
        for (int k = 0; k < kk; k++) {
            int xk = k * ld;
            java.util.Arrays.fill(dx, xk, xk + ld, 0f);
            for (int r = 0; r < o; r++) {
                float hi = wtHi[k * o + r];
                float lo = wtLo[k * o + r];
                int dr = r * ld;
                for (int p = 0; p < ld; p++) {
                    float xv = x[xk + p];
                    dx[xk + p] += (Math.abs(hi - xv) - Math.abs(lo - xv)) * dy[dr + p];
                }
            }
            for (int p = 0; p < ld; p++) dx[xk + p] *= 0.5f;
        }
    }

    @Override
    public void filterGrad(int o, int kk, int ld, float[] dy, float[] x, float[] dw) {
        for (int r = 0; r < o; r++) {
            int dr = r * ld;
            for (int k = 0; k < kk; k++) {
                int xk = k * ld;
                float s = 0f;
                for (int p = 0; p < ld; p++) s += dy[dr + p] * x[xk + p];
                dw[r * kk + k] += s;
            }
        }
    }

    @Override
    public void rowSums(int rows, int ld, float[] dy, float[] sums) {
        for (int r = 0; r < rows; r++) {
            float s = 0f;
            for (int p = r * ld, end = p + ld; p < end; p++) s += dy[p];
            sums[r] += s;
        }
    }
}
