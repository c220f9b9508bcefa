package org.addernet.kernels;

import java.util.Arrays;

/**
 * Moves data between NCHW tensors and column matrices for a range {@code [q0, q1)} of the batch's global
 * column index {@code q = n*Ho*Wo + i*Wo + j}; a range may start and end inside a sample.
 *
 * <p>Column matrix layout: {@code col[r*ld + (q - q0)]}, row {@code r = (c*k + u)*k + v} for the input
 * columns ({@code K = C*k*k} rows) or {@code r = o} for output columns ({@code O} rows). Columns
 * {@code [q1 - q0, ld)} are padding: {@link #im2col} and {@link #gatherOutput} zero them, so a kernel sweeping
 * all {@code ld} columns multiplies a zero {@code dy} with a finite {@code x}. Memory bound, so scalar.
 */
final class Im2col {
    private Im2col() {
    }

    /** {@code xcol[(c,u,v)][q] = xp[n, c, i*s + u - pad, j*s + v - pad]} (0 on padding). */
    static void im2col(ConvGeometry g, float[] x, int q0, int q1, int ld, float[] xcol) {
        int cols = q1 - q0, kk = g.kk();
        for (int r = 0; r < kk; r++) Arrays.fill(xcol, r * ld + cols, (r + 1) * ld, 0f);
        int p = g.positions(), c = g.c(), h = g.h(), w = g.w();
        boolean pointwise = g.k() == 1 && g.stride() == 1 && g.pad() == 0;
        for (int q = q0; q < q1; ) {
            int n = q / p, pa = q - n * p, pb = Math.min(p, q1 - n * p), base = q - q0;
            for (int ci = 0; ci < c; ci++) {
                int plane = (n * c + ci) * h * w;
                if (pointwise) {
                    System.arraycopy(x, plane + pa, xcol, ci * ld + base, pb - pa);
                    continue;
                }
                for (int u = 0; u < g.k(); u++) {
                    for (int v = 0; v < g.k(); v++) {
                        int r = (ci * g.k() + u) * g.k() + v;
                        windowRows(g, x, plane, u, v, pa, pb, xcol, r * ld + base, false);
                    }
                }
            }
            q = n * p + pb;
        }
    }

    /** Adds {@code dxcol} back onto {@code dx} (overlapping windows add up; padding positions are dropped). */
    static void col2im(ConvGeometry g, float[] dxcol, int q0, int q1, int ld, float[] dx) {
        int p = g.positions(), c = g.c(), h = g.h(), w = g.w();
        boolean pointwise = g.k() == 1 && g.stride() == 1 && g.pad() == 0;
        for (int q = q0; q < q1; ) {
            int n = q / p, pa = q - n * p, pb = Math.min(p, q1 - n * p), base = q - q0;
            for (int ci = 0; ci < c; ci++) {
                int plane = (n * c + ci) * h * w;
                if (pointwise) {
                    int src = ci * ld + base;
                    for (int t = 0; t < pb - pa; t++) dx[plane + pa + t] += dxcol[src + t];
                    continue;
                }
                for (int u = 0; u < g.k(); u++) {
                    for (int v = 0; v < g.k(); v++) {
                        int r = (ci * g.k() + u) * g.k() + v;
                        windowRows(g, dx, plane, u, v, pa, pb, dxcol, r * ld + base, true);
                    }
                }
            }
            q = n * p + pb;
        }
    }

    /**
     * For filter tap (u, v) and the sample's positions [pa, pb): copies input values into the column row
     * starting at {@code d}, or, if {@code add}, adds the column row back onto the input.
     */
    private static void windowRows(ConvGeometry g, float[] img, int plane, int u, int v, int pa, int pb,
                                   float[] col, int d, boolean add) {
        int wo = g.wo(), s = g.stride(), h = g.h(), w = g.w(), off = v - g.pad();
        // Output columns j whose input column j*s + off lies inside [0, w).
        int jMin = off >= 0 ? 0 : (-off + s - 1) / s;
        int jMax = off >= w ? 0 : (w - 1 - off) / s + 1;
        for (int pos = pa; pos < pb; ) {
            int i = pos / wo, j0 = pos - i * wo, j1 = Math.min(wo, j0 + (pb - pos));
            int hi = i * s + u - g.pad();
            int lo = Math.max(j0, jMin), up = Math.min(j1, jMax);
            if (hi < 0 || hi >= h || lo >= up) {
                if (!add) Arrays.fill(col, d, d + (j1 - j0), 0f);
            } else {
                int row = plane + hi * w + off;
                int dl = d + (lo - j0);
                if (add) {
                    for (int j = lo; j < up; j++) img[row + j * s] += col[dl + j - lo];
                } else {
                    Arrays.fill(col, d, dl, 0f);
                    if (s == 1) {
                        System.arraycopy(img, row + lo, col, dl, up - lo);
                    } else {
                        for (int j = lo; j < up; j++) col[dl + j - lo] = img[row + j * s];
                    }
                    Arrays.fill(col, dl + (up - lo), d + (j1 - j0), 0f);
                }
            }
            d += j1 - j0;
            pos += j1 - j0;
        }
    }

    /** {@code y[n, o, pos] = ycol[o][q - q0]}: scatters a column block back into NCHW. */
    static void scatterOutput(ConvGeometry g, float[] ycol, int q0, int q1, int ld, float[] y) {
        int p = g.positions(), o = g.o();
        for (int q = q0; q < q1; ) {
            int n = q / p, pa = q - n * p, pb = Math.min(p, q1 - n * p), base = q - q0;
            for (int r = 0; r < o; r++) System.arraycopy(ycol, r * ld + base, y, (n * o + r) * p + pa, pb - pa);
            q = n * p + pb;
        }
    }

    /** {@code dycol[o][q - q0] = dy[n, o, pos]}, padded columns zeroed. */
    static void gatherOutput(ConvGeometry g, float[] dy, int q0, int q1, int ld, float[] dycol) {
        int p = g.positions(), o = g.o(), cols = q1 - q0;
        for (int r = 0; r < o; r++) Arrays.fill(dycol, r * ld + cols, (r + 1) * ld, 0f);
        for (int q = q0; q < q1; ) {
            int n = q / p, pa = q - n * p, pb = Math.min(p, q1 - n * p), base = q - q0;
            for (int r = 0; r < o; r++) System.arraycopy(dy, (n * o + r) * p + pa, dycol, r * ld + base, pb - pa);
            q = n * p + pb;
        }
    }
}
