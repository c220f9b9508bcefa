package org.addernet.kernels;

import java.util.Arrays;

/**
 * Moves data between NCHW tensors and the column form the kernels work on, in these layouts:
 *
 * <p><b>Explicit</b> (any stride): for a range {@code [q0, q1)} of the batch's global column index
 * {@code q = n*Ho*Wo + i*Wo + j} (a range may start and end inside a sample), {@code col[r*ld + (q - q0)]} with
 * row {@code r = (c*k + u)*k + v} for the input ({@code K = C*k*k} rows) or {@code r = o} for outputs. Columns
 * {@code [q1 - q0, ld)} are padding: {@link #im2col} and {@link #gatherOutput} zero them, so a kernel sweeping
 * all {@code ld} columns multiplies a zero {@code dy} with a finite {@code x}.
 *
 * <p><b>Shifted</b> (stride 1, {@code pad <= k-1}): the samples {@code [n0, n1)} are copied once into a
 * zeroed buffer with row stride {@code Wq = W + pad} and sample stride {@code SS = (H + pad)*Wq}: pixel
 * (m = n - n0, h, w) of channel c at {@code c*cs + pad*Wq + pad + m*SS + h*Wq + w}, so the {@code pad} zeros
 * after each row and the {@code pad} zero rows after each sample serve as the right/bottom padding of one and
 * the left/top padding of the next. Column {@code p = m*SS + i*Wq + j} stands for output (n, i, j), and row
 * (c,u,v) of the im2col matrix is then the contiguous slice starting at {@code c*cs + u*Wq + v}: no k*k-fold
 * copy at all, and col2im becomes k*k long shifted row additions. The price is junk columns
 * ({@code i >= Ho} or {@code j >= Wo}) that the kernels compute and we drop; their {@code dy} is 0, so they
 * add nothing to the gradients. On ResNet's 3x3 pad-1 layers the junk is 6% (32x32), 13% (16x16) and 27%
 * (8x8), while the explicit im2col (short row copies) costs about as much as the adder forward itself.
 *
 * <p><b>Phase split</b> (stride {@code s > 1}, {@link #phases}): each channel of the padded input is dealt into
 * {@code ph x ph} planes, {@code ph = min(k, s)}: plane (a, b) holds the padded rows {@code a, a + s, ...} and columns
 * {@code b, b + s, ...}, in a shifted layout of row stride {@code Wq = ceil((W + 2*pad)/s)} and
 * {@code ceil((H + 2*pad)/s)} rows per sample, its own padding stored as zeros. Column {@code m*SS + i*Wq + j} stands
 * for output (n, i, j); tap (u, v) reads plane {@code (u % s, v % s)} shifted by {@code (u/s)*Wq + v/s}, so row
 * (c, u, v) is again one contiguous slice, and col2im is k*k shifted row additions and one gather back into dx.
 * Planes are indexed {@code (c*ph + a)*ph + b}, {@code cs} floats each ({@link #shiftedPlanes}).
 *
 * <p><b>Lane-interleaved</b> (stride 1, {@code pad <= k-1}; the adder forward of a batch of at least a few lane
 * groups, see {@link ColumnConvEngine#interleave}): the shifted layout of one sample, but with G samples (a lane
 * group, G = the kernels' column multiple) side by side in every position: for output rows {@code [i0, i1)} of
 * samples {@code [n0, n0 + G)}, the padded rows {@code [i0, i1 + k - 1)} of channel c are held at
 * {@code c*cs + (r*Wq + t)*G + lane} (local padded row r, position t in a row of stride {@code Wq = W + pad}, the
 * pad zeros after each row serving as the right and left padding as above), so pixel (h, w) of sample
 * {@code n0 + lane} sits at {@code c*cs + ((h + pad - i0)*Wq + pad + w)*G + lane}. Column group
 * {@code (i - i0)*Wq + j} (G columns) stands for output (i, j) of the G samples, and row (c, u, v) is the slice from
 * {@code c*cs + (u*Wq + v)*G}: a column panel of 4 vectors is 4 neighbouring output pixels of 16 samples. Junk is
 * only the {@code pad} positions between output rows ({@code Wq - Wo} per row) and no padding rows between samples
 * (they are in other lanes): ResNet's 8x8 maps compute 71 column groups per 64 outputs instead of 81 shifted columns,
 * 7x7 55 instead of 64. Every tap row starts at a multiple of G floats, so all vector loads of x share one alignment
 * (in the shifted layout the taps v = 0, 1, 2 shift by one float). Lanes past the batch's end are zeros and dropped.
 *
 * <p><b>By channel</b> (the adder input gradient of stride-1 layers, {@link #packChannels}, {@link #dyTap}): columns are
 * the input pixels of samples {@code [n0, n1)} with no gaps, {@code m*H*W + h*W + w}; x is one row per channel, and dy
 * one row per output channel as seen through one tap, so the gradient of every tap of a pixel lies in the pixel's own
 * column and needs no shifted col2im, and no junk column is computed.
 *
 * <p>Memory bound, so scalar Java, except the shifted col2im's row additions (see {@link ColumnKernels#addTo}).
 */
final class Im2col {
    private Im2col() {
    }

    /** {@code xcol[(c,u,v)][q] = xp[n, c, i*s + u - pad, j*s + v - pad]} (0 on padding). */
    static void im2col(ConvGeometry g, float[] x, int q0, int q1, int ld, float[] xcol) {
        im2colRows(g, x, q0, q1, ld, 0, g.kk(), xcol);
    }

    /**
     * Rows {@code [r0, r1)} of the im2col matrix only, at {@code xcol[(r - r0)*ld + (q - q0)]}: one K-chunk of a
     * layer whose full K x ld matrix would not fit the cache (see {@link ColumnConvEngine}).
     */
    static void im2colRows(ConvGeometry g, float[] x, int q0, int q1, int ld, int r0, int r1, float[] xcol) {
        int cols = q1 - q0, kk = g.kk(), k = g.k(), kq = k * k;
        for (int r = 0; r < r1 - r0; r++) Arrays.fill(xcol, r * ld + cols, (r + 1) * ld, 0f);
        int p = g.positions(), c = g.c(), h = g.h(), w = g.w();
        if (fullWindow(g)) {
            // One output per sample whose window is the whole sample (LeNet's fc1): a transpose.
            for (int q = q0; q < q1; q++) {
                for (int r = r0, src = q * kk; r < r1; r++) xcol[(r - r0) * ld + q - q0] = x[src + r];
            }
            return;
        }
        boolean pointwise = k == 1 && g.stride() == 1 && g.pad() == 0;
        for (int q = q0; q < q1; ) {
            int n = q / p, pa = q - n * p, pb = Math.min(p, q1 - n * p), base = q - q0;
            for (int ci = r0 / kq; ci < c && ci * kq < r1; ci++) {
                int plane = (n * c + ci) * h * w;
                if (pointwise) {
                    System.arraycopy(x, plane + pa, xcol, (ci - r0) * ld + base, pb - pa);
                    continue;
                }
                for (int u = 0; u < k; u++) {
                    for (int v = 0; v < k; v++) {
                        int r = (ci * k + u) * k + v;
                        if (r >= r0 && r < r1) windowRows(g, x, plane, u, v, pa, pb, xcol, (r - r0) * ld + base, false);
                    }
                }
            }
            q = n * p + pb;
        }
    }

    /** Adds {@code dxcol} back onto {@code dx} (overlapping windows add up; padding positions are dropped). */
    static void col2im(ConvGeometry g, float[] dxcol, int q0, int q1, int ld, float[] dx) {
        col2imRows(g, dxcol, q0, q1, ld, 0, g.kk(), dx);
    }

    /**
     * {@link #col2im} of rows {@code [r0, r1)} only, held at {@code dxcol[(r - r0)*ld + ...]}. Calling it for
     * consecutive row ranges in order adds onto every dx element in the same order as one call for all rows
     * (an element receives at most one value per row, rows ascending), so K-chunking keeps the bits.
     */
    static void col2imRows(ConvGeometry g, float[] dxcol, int q0, int q1, int ld, int r0, int r1, float[] dx) {
        int p = g.positions(), c = g.c(), h = g.h(), w = g.w(), kk = g.kk(), k = g.k(), kq = k * k;
        if (fullWindow(g)) {
            for (int q = q0; q < q1; q++) {
                for (int r = r0, dst = q * kk; r < r1; r++) dx[dst + r] += dxcol[(r - r0) * ld + q - q0];
            }
            return;
        }
        boolean pointwise = k == 1 && g.stride() == 1 && g.pad() == 0;
        for (int q = q0; q < q1; ) {
            int n = q / p, pa = q - n * p, pb = Math.min(p, q1 - n * p), base = q - q0;
            for (int ci = r0 / kq; ci < c && ci * kq < r1; ci++) {
                int plane = (n * c + ci) * h * w;
                if (pointwise) {
                    int src = (ci - r0) * ld + base;
                    for (int t = 0; t < pb - pa; t++) dx[plane + pa + t] += dxcol[src + t];
                    continue;
                }
                for (int u = 0; u < k; u++) {
                    for (int v = 0; v < k; v++) {
                        int r = (ci * k + u) * k + v;
                        if (r >= r0 && r < r1) windowRows(g, dx, plane, u, v, pa, pb, dxcol, (r - r0) * ld + base, true);
                    }
                }
            }
            q = n * p + pb;
        }
    }

    /** The window covers the whole (unpadded) input: one output position, column = sample. */
    static boolean fullWindow(ConvGeometry g) {
        return g.pad() == 0 && g.k() == g.h() && g.k() == g.w();
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
        scatterOutput(g, ycol, q0, q1, ld, y, false);
    }

    /** {@link #scatterOutput}, storing {@code 0 - v} if {@code negate} (the K-chunked adder forward's totals). */
    static void scatterOutput(ConvGeometry g, float[] ycol, int q0, int q1, int ld, float[] y, boolean negate) {
        int p = g.positions(), o = g.o();
        for (int q = q0; q < q1; ) {
            int n = q / p, pa = q - n * p, pb = Math.min(p, q1 - n * p), base = q - q0;
            for (int r = 0; r < o; r++) copy(ycol, r * ld + base, y, (n * o + r) * p + pa, pb - pa, negate);
            q = n * p + pb;
        }
    }

    /** {@code dst[d + i] = src[s + i]}, or {@code 0 - src[s + i]} (+0 for a +0 total, as the kernels' y = 0 - t). */
    private static void copy(float[] src, int s, float[] dst, int d, int len, boolean negate) {
        if (!negate) {
            System.arraycopy(src, s, dst, d, len);
            return;
        }
        for (int i = 0; i < len; i++) dst[d + i] = 0f - src[s + i];
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

    // ---------------------------------------------------------------- shifted layout (stride 1) and its phase split (stride s)

    /**
     * Phases per axis of the shifted buffer: 1 at stride 1; at stride {@code s} the padded input is split into
     * {@code s x s} phase planes (padded rows {@code a, a + s, ...} times padded columns {@code b, b + s, ...}), of
     * which a k x k filter reads {@code min(k, s)} per axis (a 1x1 stride-2 shortcut only phase (0, 0)).
     */
    static int phases(ConvGeometry g) {
        return g.stride() == 1 ? 1 : Math.min(g.k(), g.stride());
    }

    /** Planes of the shifted buffer, {@code cs} floats each: C at stride 1, {@code C * phases^2} phase planes otherwise. */
    static int shiftedPlanes(ConvGeometry g) {
        int ph = phases(g);
        return g.c() * ph * ph;
    }

    /**
     * Row stride of the shifted layout: {@code Wq = W + pad} at stride 1 (one gap of {@code pad} zeros per row);
     * at stride s the width of the widest phase plane of the padded input, {@code ceil((W + 2*pad)/s)}.
     */
    static int rowStride(ConvGeometry g) {
        int s = g.stride();
        return s == 1 ? g.w() + g.pad() : (g.w() + 2 * g.pad() + s - 1) / s;
    }

    /** Rows one sample occupies per plane: {@code H + pad} at stride 1, {@code ceil((H + 2*pad)/s)} otherwise. */
    private static int shiftedHeight(ConvGeometry g) {
        int s = g.stride();
        return s == 1 ? g.h() + g.pad() : (g.h() + 2 * g.pad() + s - 1) / s;
    }

    /** Largest row (and column) shift of a tap: {@code k - 1} at stride 1, {@code (k - 1)/s} in a phase plane. */
    private static int maxShift(ConvGeometry g) {
        return (g.k() - 1) / g.stride();
    }

    /**
     * Whether the shifted layout can hold this layer: stride 1 and the gaps wide enough to be the padding, or any
     * stride above 1 (the phase planes hold their padding explicitly; a valid output (i, j) reads phase plane
     * (u % s, v % s) at (i + u/s, j + v/s), inside the plane since {@code s*(Ho - 1) + k <= H + 2*pad}).
     */
    static boolean shiftedFits(ConvGeometry g) {
        return g.stride() > 1 || g.pad() <= g.k() - 1;
    }

    /** Columns one sample occupies in the shifted layout: {@code (H + pad)*(W + pad)}, or a phase plane's rows x Wq. */
    static int shiftedColumns(ConvGeometry g) {
        return shiftedHeight(g) * rowStride(g);
    }

    /** Channel (plane) stride of the shifted buffer for {@code ld} columns: room for the largest tap offset. */
    static int shiftedChannelStride(ConvGeometry g, int ld) {
        return ld + maxShift(g) * (rowStride(g) + 1);
    }

    /** Where sample {@code m}'s pixel (0, 0) of a channel sits: after {@code pad} zero rows and {@code pad} zeros. */
    private static int lead(ConvGeometry g) {
        return g.pad() * rowStride(g) + g.pad();
    }

    /**
     * {@code xRow[(c*k + u)*k + v] = c*cs + u*Wq + v} at stride 1; at stride s the start of phase plane
     * {@code (c, u % s, v % s)} shifted by {@code (u/s)*Wq + v/s}.
     */
    static void shiftedRows(ConvGeometry g, int cs, int[] xRow) {
        for (int r = 0; r < g.kk(); r++) xRow[r] = shiftedRow(g, cs, r);
    }

    /** The start of im2col row {@code r = (c*k + u)*k + v} in the shifted buffer (see {@link #shiftedRows}). */
    private static int shiftedRow(ConvGeometry g, int cs, int r) {
        int k = g.k(), s = g.stride(), wq = rowStride(g), ci = r / (k * k), u = r / k % k, v = r % k;
        if (s == 1) return ci * cs + u * wq + v;
        int ph = phases(g), plane = (ci * ph + u % s) * ph + v % s;
        return plane * cs + u / s * wq + v / s;
    }

    /** Copies samples [n0, n1) into {@code buf} ({@code shiftedPlanes * cs} floats), zeros everywhere else. */
    static void packShifted(ConvGeometry g, float[] x, int n0, int n1, int cs, float[] buf) {
        packShifted(g, x, n0, n1, cs, buf, 0, g.c());
    }

    /**
     * {@link #packShifted} for the channels {@code [c0, c1)} only (their planes of {@code cs} floats each), so
     * threads can share it. At stride s each input row goes to the phase planes of its padded row, its pixels
     * dealt out to the planes of their padded columns (pixel (h, w) of phase (a, b) = ((h + pad) % s, (w + pad) % s)
     * at plane position ((h + pad)/s, (w + pad)/s)); phases the filter never reads are skipped.
     */
    static void packShifted(ConvGeometry g, float[] x, int n0, int n1, int cs, float[] buf, int c0, int c1) {
        int c = g.c(), h = g.h(), w = g.w(), wq = rowStride(g), ss = shiftedColumns(g), lead = lead(g);
        int ph = phases(g), pp = ph * ph, s = g.stride(), pad = g.pad();
        Arrays.fill(buf, c0 * pp * cs, c1 * pp * cs, 0f);
        for (int n = n0; n < n1; n++) {
            for (int ci = c0; ci < c1; ci++) {
                int src = (n * c + ci) * h * w;
                if (s == 1) {
                    int dst = ci * cs + lead + (n - n0) * ss;
                    for (int hh = 0; hh < h; hh++) System.arraycopy(x, src + hh * w, buf, dst + hh * wq, w);
                    continue;
                }
                // Plane (a, b) holds the input rows h0, h0 + s, ... at plane rows i0, i0 + 1, ... (likewise columns).
                for (int a = 0; a < ph; a++) {
                    int h0 = Math.floorMod(a - pad, s), i0 = (h0 + pad) / s;
                    for (int b = 0; b < ph; b++) {
                        int w0 = Math.floorMod(b - pad, s), j0 = (w0 + pad) / s;
                        int plane = ((ci * ph + a) * ph + b) * cs + (n - n0) * ss + j0;
                        for (int hh = h0, i = i0; hh < h; hh += s, i++) {
                            int row = src + hh * w, d = plane + i * wq;
                            for (int ww = w0; ww < w; ww += s) buf[d++] = x[row + ww];
                        }
                    }
                }
            }
        }
    }

    /**
     * What the outputs in shifted columns {@code [q0, q1)} of a stride-1 layer read, and only that: positions
     * {@code [q0, q1 + maxShift*(Wq + 1))} of every channel plane, as {@link #packShifted} would fill them (samples
     * from 0). The rest of {@code buf} is left as it was. A thread that computes a range of output rows then copies
     * the input rows its outputs read (its own range plus k - 1 rows), not the whole input: in a batch-1 forward the
     * previous layer's same thread wrote most of them, so they come from its own cache.
     */
    static void packShiftedColumns(ConvGeometry g, float[] x, int n, int cs, float[] buf, int q0, int q1) {
        if (g.stride() != 1) throw new IllegalArgumentException("column-range pack is for stride 1, got " + g);
        int c = g.c(), h = g.h(), w = g.w(), wq = rowStride(g), ss = shiftedColumns(g), lead = lead(g);
        int hi = Math.min(cs, q1 + maxShift(g) * (wq + 1));
        for (int ci = 0; ci < c; ci++) {
            int plane = ci * cs;
            Arrays.fill(buf, plane + q0, plane + hi, 0f);
            for (int m = 0; m < n; m++) {
                int src = (m * c + ci) * h * w, first = Math.max(0, (q0 - lead - m * ss) / wq - 1);
                for (int hh = first; hh < h; hh++) {
                    int at = lead + m * ss + hh * wq;
                    if (at >= hi) break;
                    int from = Math.max(at, q0), to = Math.min(at + w, hi);
                    if (from < to) System.arraycopy(x, src + hh * w + from - at, buf, plane + from, to - from);
                }
            }
        }
    }

    /** {@code y[n, o, i, j] = ycol[o*ld + m*SS + i*Wq + j]}: drops the junk columns. */
    static void scatterShifted(ConvGeometry g, float[] ycol, int ld, int n0, int n1, float[] y) {
        int o = g.o(), ho = g.ho(), wo = g.wo(), wq = rowStride(g), ss = shiftedColumns(g);
        for (int n = n0; n < n1; n++) {
            for (int r = 0; r < o; r++) {
                int src = r * ld + (n - n0) * ss, dst = (n * o + r) * ho * wo;
                if (wq == wo) System.arraycopy(ycol, src, y, dst, ho * wo); // no junk columns (1x1 stride 2, even map)
                else for (int i = 0; i < ho; i++) System.arraycopy(ycol, src + i * wq, y, dst + i * wo, wo);
            }
        }
    }

    /** The inverse of {@link #scatterShifted}, with every junk column of {@code dycol} set to 0. */
    static void gatherShifted(ConvGeometry g, float[] dy, int n0, int n1, int ld, float[] dycol) {
        int o = g.o(), ho = g.ho(), wo = g.wo(), wq = rowStride(g), ss = shiftedColumns(g);
        if (wq == wo && ss == ho * wo) {
            // No junk columns inside the samples (1x1 stride 2 on an even map): zero only the padding after them.
            for (int r = 0; r < o; r++) Arrays.fill(dycol, r * ld + (n1 - n0) * ss, (r + 1) * ld, 0f);
        } else {
            Arrays.fill(dycol, 0, o * ld, 0f);
        }
        for (int n = n0; n < n1; n++) {
            for (int r = 0; r < o; r++) {
                int dst = r * ld + (n - n0) * ss, src = (n * o + r) * ho * wo;
                if (wq == wo) System.arraycopy(dy, src, dycol, dst, ho * wo);
                else for (int i = 0; i < ho; i++) System.arraycopy(dy, src + i * wo, dycol, dst + i * wq, wo);
            }
        }
    }

    /**
     * Overwrites samples [n0, n1) of {@code dx} with the col2im of {@code dxcol}: row (c,u,v) is added onto
     * the buffer {@code pad} at its shift, then the pixels are copied out (padding and gaps dropped).
     */
    static void col2imShifted(ConvGeometry g, float[] dxcol, int ld, int n0, int n1, int cs, float[] pad,
                              float[] dx, ColumnKernels kernels) {
        Arrays.fill(pad, 0, shiftedPlanes(g) * cs, 0f);
        addShiftedRows(g, dxcol, ld, 0, g.kk(), cs, pad, kernels);
        unpackShifted(g, pad, n0, n1, cs, dx);
    }

    /**
     * The first half of {@link #col2imShifted} for rows {@code [r0, r1)} held at {@code dxcol[(r - r0)*ld]}: each
     * row added onto the (zeroed) buffer at its shift. Consecutive row ranges in order give the same bits as all
     * rows at once (each buffer element receives the rows in ascending order either way).
     */
    static void addShiftedRows(ConvGeometry g, float[] dxcol, int ld, int r0, int r1, int cs, float[] pad,
                               ColumnKernels kernels) {
        for (int r = r0; r < r1; r++) kernels.addTo(dxcol, (r - r0) * ld, pad, shiftedRow(g, cs, r), ld);
    }

    /**
     * The second half of {@link #col2imShifted}: overwrites samples [n0, n1) of dx with the buffer's pixels (at
     * stride s gathered back from the phase planes; pixels of phases no tap reads get 0).
     */
    static void unpackShifted(ConvGeometry g, float[] pad, int n0, int n1, int cs, float[] dx) {
        int c = g.c(), h = g.h(), w = g.w(), ss = shiftedColumns(g), lead = lead(g), wq = rowStride(g);
        int ph = phases(g), s = g.stride(), pd = g.pad();
        for (int n = n0; n < n1; n++) {
            for (int ci = 0; ci < c; ci++) {
                int dst = (n * c + ci) * h * w;
                if (s == 1) {
                    int src = ci * cs + lead + (n - n0) * ss;
                    for (int hh = 0; hh < h; hh++) System.arraycopy(pad, src + hh * wq, dx, dst + hh * w, w);
                    continue;
                }
                if (ph < s) Arrays.fill(dx, dst, dst + h * w, 0f);
                for (int a = 0; a < ph; a++) {
                    int h0 = Math.floorMod(a - pd, s), i0 = (h0 + pd) / s;
                    for (int b = 0; b < ph; b++) {
                        int w0 = Math.floorMod(b - pd, s), j0 = (w0 + pd) / s;
                        int plane = ((ci * ph + a) * ph + b) * cs + (n - n0) * ss + j0;
                        for (int hh = h0, i = i0; hh < h; hh += s, i++) {
                            int row = dst + hh * w, q = plane + i * wq;
                            for (int ww = w0; ww < w; ww += s) dx[row + ww] = pad[q++];
                        }
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- lane-interleaved layout (stride 1)

    /** Padded rows a lane-interleaved tile of output rows {@code [i0, i1)} holds: {@code i1 - i0 + k - 1}. */
    private static int interleavedPaddedRows(ConvGeometry g, int i0, int i1) {
        return i1 - i0 + g.k() - 1;
    }

    /**
     * Channel stride of a lane-interleaved tile of output rows {@code [i0, i1)}: its padded rows plus the {@code pad}
     * positions the last row's rightmost taps read past them, G floats each.
     */
    static int interleavedChannelStride(ConvGeometry g, int i0, int i1, int lanes) {
        return (interleavedPaddedRows(g, i0, i1) * rowStride(g) + g.pad()) * lanes;
    }

    /** Columns the kernels compute for output rows {@code [i0, i1)}: column groups up to output (i1 - 1, Wo - 1). */
    static int interleavedColumns(ConvGeometry g, int i0, int i1, int lanes) {
        return ((i1 - i0 - 1) * rowStride(g) + g.wo()) * lanes;
    }

    /** {@code xRow[(c*k + u)*k + v] = base + c*cs + (u*Wq + v)*G}. */
    static void interleavedRows(ConvGeometry g, int base, int cs, int lanes, int[] xRow) {
        int k = g.k(), wq = rowStride(g);
        for (int r = 0; r < g.kk(); r++) xRow[r] = base + r / (k * k) * cs + (r / k % k * wq + r % k) * lanes;
    }

    /**
     * Copies the input rows that output rows {@code [i0, i1)} read, of samples {@code [n0, n0 + lanes)} (lanes past the
     * batch stay 0), into {@code buf} from {@code base} in the lane-interleaved layout ({@code c*cs} floats, zeros
     * everywhere else). Per channel row: the G samples' rows (G streams C*H*W floats apart, which alias in the L1's sets
     * when read in turn) are read one after the other into the row's G*W floats, which stay in L1.
     */
    static void packInterleaved(ConvGeometry g, float[] x, int n0, int lanes, int i0, int i1, int base, int cs, float[] buf) {
        int c = g.c(), h = g.h(), w = g.w(), wq = rowStride(g), pad = g.pad(), ns = c * h * w;
        int h0 = Math.max(0, i0 - pad), h1 = Math.min(h, i0 - pad + interleavedPaddedRows(g, i0, i1));
        int valid = Math.min(lanes, g.n() - n0);
        Arrays.fill(buf, base, base + c * cs, 0f);
        for (int ci = 0; ci < c; ci++) {
            for (int hh = h0; hh < h1; hh++) {
                int s = (n0 * c + ci) * h * w + hh * w, d = base + ci * cs + ((hh + pad - i0) * wq + pad) * lanes;
                for (int lane = 0; lane < valid; lane++, s += ns) {
                    for (int ww = 0, q = d + lane; ww < w; ww++, q += lanes) buf[q] = x[s + ww];
                }
            }
        }
    }

    /**
     * {@code y[n0 + lane, o, i, j] = ycol[o*ld + ((i - i0)*Wq + j)*G + lane]} for the tile's rows, junk columns and
     * lanes past the batch dropped (per output row, the row's G*Wo floats of ycol, in L1, are read out one lane after
     * the other into the G samples' rows); then each sample's rows of the channel mapped by {@code map} (if not null).
     */
    static void scatterInterleaved(ConvGeometry g, float[] ycol, int ld, int n0, int lanes, int i0, int i1, float[] y,
                                   OutputMap map) {
        int o = g.o(), wo = g.wo(), p = g.positions(), wq = rowStride(g), len = (i1 - i0) * wo, ns = o * p;
        int valid = Math.min(lanes, g.n() - n0);
        for (int r = 0; r < o; r++) {
            int dst = (n0 * o + r) * p + i0 * wo;
            for (int i = 0; i < i1 - i0; i++) {
                int src = r * ld + i * wq * lanes;
                for (int lane = 0, d = dst + i * wo; lane < valid; lane++, d += ns) {
                    for (int j = 0, q = src + lane; j < wo; j++, q += lanes) y[d + j] = ycol[q];
                }
            }
            if (map != null) {
                for (int lane = 0; lane < valid; lane++) map.apply(y, dst + lane * ns, len, r);
            }
        }
    }

    // ---------------------------------------------------------------- input gradient by taps (stride 1, no junk columns)

    /**
     * The layout of the input gradient by taps (stride-1 layers, see {@code ColumnConvEngine}): samples
     * {@code [n0, n1)} of every channel side by side, {@code buf[c*ld + m*H*W + h*W + w] = x[n0 + m, c, h, w]}, no gaps;
     * columns {@code [(n1 - n0)*H*W, ld)} are zeroed.
     */
    static void packChannels(ConvGeometry g, float[] x, int n0, int n1, int ld, float[] buf) {
        int c = g.c(), hw = g.h() * g.w(), cols = (n1 - n0) * hw;
        for (int ci = 0; ci < c; ci++) {
            for (int n = n0; n < n1; n++) System.arraycopy(x, (n * c + ci) * hw, buf, ci * ld + (n - n0) * hw, hw);
            Arrays.fill(buf, ci * ld + cols, (ci + 1) * ld, 0f);
        }
    }

    /** The inverse of {@link #packChannels}: overwrites samples [n0, n1) of dx. */
    static void unpackChannels(ConvGeometry g, float[] buf, int n0, int n1, int ld, float[] dx) {
        int c = g.c(), hw = g.h() * g.w();
        for (int ci = 0; ci < c; ci++) {
            for (int n = n0; n < n1; n++) System.arraycopy(buf, ci * ld + (n - n0) * hw, dx, (n * c + ci) * hw, hw);
        }
    }

    /**
     * dy as tap {@code t = u*k + v} of a stride-1 layer sees it from the input pixels, in the {@link #packChannels}
     * columns: {@code dyt[o*ld + m*H*W + h*W + w] = dy[n0 + m, o, h + pad - u, w + pad - v]}, 0 where that output does not
     * exist (and in the columns after the samples). Input pixel (h, w) feeds output (h + pad - u, w + pad - v) through
     * tap (u, v), so with these rows the tap's input-gradient terms of every pixel lie in one column, the pixel's own.
     * When the output is as wide as the input (same padding) a plane is one copy at a constant offset, its invalid
     * columns zeroed after.
     */
    static void dyTap(ConvGeometry g, float[] dy, int n0, int n1, int t, int ld, float[] dyt) {
        int o = g.o(), h = g.h(), w = g.w(), ho = g.ho(), wo = g.wo(), hw = h * w, po = ho * wo, k = g.k();
        int di = g.pad() - t / k, dj = g.pad() - t % k, cols = (n1 - n0) * hw;
        // Pixels with an output through this tap: rows [h0, h1), columns [w0, w1).
        int h0 = Math.max(0, -di), h1 = Math.min(h, ho - di), w0 = Math.max(0, -dj), w1 = Math.min(w, wo - dj);
        for (int r = 0; r < o; r++) {
            Arrays.fill(dyt, r * ld + cols, (r + 1) * ld, 0f);
            for (int n = n0; n < n1; n++) {
                int src = (n * o + r) * po, dst = r * ld + (n - n0) * hw;
                if (h0 >= h1 || w0 >= w1) {
                    Arrays.fill(dyt, dst, dst + hw, 0f);
                    continue;
                }
                Arrays.fill(dyt, dst, dst + h0 * w, 0f);
                Arrays.fill(dyt, dst + h1 * w, dst + hw, 0f);
                if (wo == w) {
                    // dyt[dst + i] = dy[src + i + off] for i in rows [h0, h1): one copy, clipped to the plane (the
                    // clipped ends are invalid columns), then the invalid columns zeroed.
                    int off = di * w + dj, a = Math.max(h0 * w, -off), b = Math.min(h1 * w, po - off);
                    System.arraycopy(dy, src + a + off, dyt, dst + a, b - a);
                    if (w0 > 0 || w1 < w) {
                        for (int hh = h0; hh < h1; hh++) {
                            int row = dst + hh * w;
                            for (int ww = 0; ww < w0; ww++) dyt[row + ww] = 0f;
                            for (int ww = w1; ww < w; ww++) dyt[row + ww] = 0f;
                        }
                    }
                } else {
                    for (int hh = h0; hh < h1; hh++) {
                        int row = dst + hh * w;
                        Arrays.fill(dyt, row, row + w0, 0f);
                        System.arraycopy(dy, src + (hh + di) * wo + w0 + dj, dyt, row + w0, w1 - w0);
                        Arrays.fill(dyt, row + w1, row + w, 0f);
                    }
                }
            }
        }
    }
}
