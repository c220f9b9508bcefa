package org.addernet.kernels;

/**
 * The formulas of DESIGN section 1 as straight float64 loops over (n, o, i, j, c, u, v) with explicit padding
 * checks, independent of im2col: the oracle for the engine tests.
 */
final class ConvReference {
    private ConvReference() {
    }

    /** Xp[n,c,hh,ww], 0 on padding. */
    private static double xp(ConvGeometry g, double[] x, int n, int c, int hh, int ww) {
        if (hh < 0 || hh >= g.h() || ww < 0 || ww >= g.w()) return 0.0;
        return x[((n * g.c() + c) * g.h() + hh) * g.w() + ww];
    }

    static double[] forward(ConvGeometry g, double[] x, double[] w, boolean adder) {
        int ho = g.ho(), wo = g.wo(), k = g.k();
        double[] y = new double[g.outputSize()];
        for (int n = 0; n < g.n(); n++)
            for (int o = 0; o < g.o(); o++)
                for (int i = 0; i < ho; i++)
                    for (int j = 0; j < wo; j++) {
                        double s = 0;
                        for (int c = 0; c < g.c(); c++)
                            for (int u = 0; u < k; u++)
                                for (int v = 0; v < k; v++) {
                                    double xv = xp(g, x, n, c, i * g.stride() + u - g.pad(), j * g.stride() + v - g.pad());
                                    double wv = w[((o * g.c() + c) * k + u) * k + v];
                                    s += adder ? -Math.abs(xv - wv) : xv * wv;
                                }
                        y[((n * g.o() + o) * ho + i) * wo + j] = s;
                    }
        return y;
    }

    /** Returns {dx, dw}: the adder's clamp input gradient and full-precision filter gradient, or conv's. */
    static double[][] backward(ConvGeometry g, double[] x, double[] w, double[] dy, boolean adder) {
        int ho = g.ho(), wo = g.wo(), k = g.k();
        double[] dx = new double[g.inputSize()];
        double[] dw = new double[g.filterSize()];
        for (int n = 0; n < g.n(); n++)
            for (int o = 0; o < g.o(); o++)
                for (int i = 0; i < ho; i++)
                    for (int j = 0; j < wo; j++) {
                        double d = dy[((n * g.o() + o) * ho + i) * wo + j];
                        for (int c = 0; c < g.c(); c++)
                            for (int u = 0; u < k; u++)
                                for (int v = 0; v < k; v++) {
                                    int hh = i * g.stride() + u - g.pad(), ww = j * g.stride() + v - g.pad();
                                    int wi = ((o * g.c() + c) * k + u) * k + v;
                                    double xv = xp(g, x, n, c, hh, ww), wv = w[wi];
                                    dw[wi] += adder ? (xv - wv) * d : xv * d;
                                    boolean inside = hh >= 0 && hh < g.h() && ww >= 0 && ww < g.w();
                                    if (inside) {
                                        double gx = adder ? Math.max(-1.0, Math.min(1.0, wv - xv)) : wv;
                                        dx[((n * g.c() + c) * g.h() + hh) * g.w() + ww] += gx * d;
                                    }
                                }
                    }
        return new double[][] {dx, dw};
    }
}
