package org.addernet.kernels;

import java.util.Arrays;
import org.addernet.engine.ThreadPool;

/**
 * The {@link ConvEngine}: column form per chunk of samples ({@link Im2col}), microkernels from
 * {@link ColumnKernels}, threads from {@link ThreadPool#parallelFor} over chunks.
 *
 * <p>The batch is cut into chunks of {@code nb} whole samples, so no two threads ever write the same sample of
 * {@code dx}. Stride-1 layers whose shifted maps are at most twice the output use the shifted layout (no
 * im2col copy, see {@link Im2col}); the others use an explicit im2col, processed in pieces of at most
 * {@code maxCols} columns (a piece is a range of the global column index {@code q = n*Ho*Wo + pos}, so a huge
 * sample is split by positions). Either way the workspace stays bounded by about {@code budget} floats per
 * thread whatever the layer. Each thread owns a workspace (column matrices and a partial filter gradient),
 * allocated once and grown on demand; partials are added in thread order after the
 * loop, so a call is bit-reproducible for a fixed thread count.
 *
 * <p>Also accepts {@code dw == null} in the backward calls (filter gradient not needed); benchmarks use it to
 * time the input gradient alone. Calls are serialized ({@code synchronized}): the workspaces are shared.
 */
final class ColumnConvEngine implements ConvEngine {
    /** Floats of column workspace per thread: 8 MB. */
    static final int DEFAULT_BUDGET = 1 << 21;
    /**
     * Columns per chunk we aim for: the filter gradient does 16 lane-ordered horizontal sums per 4x4 block
     * per chunk, which costs ~10% at 2048 columns.
     */
    static final int DEFAULT_TARGET_COLS = 2048;

    private final ThreadPool pool;
    private final ColumnKernels kernels;
    private final int budget;
    private final int targetCols;
    private final Workspace[] spaces;
    /** The transposed filters (K x O) for the input gradients, shared read-only by the threads. */
    private float[] wt = new float[0];
    private float[] wBlocks = new float[0];

    /** One thread's buffers; {@code xcol} is the explicit im2col matrix or the shifted padded buffer. */
    private static final class Workspace {
        float[] xcol = new float[0], ycol = new float[0], dxcol = new float[0], dxpad = new float[0];
        float[] dw = new float[0];
        float[] block = new float[0];
        int[] blockRow;
        int[] xRow = new int[0], yRow = new int[0];
    }

    /**
     * How a batch is cut: chunks of {@code perChunk} samples; {@code shifted} layout (one piece per chunk) or
     * explicit im2col in pieces of at most {@code maxCols} columns.
     */
    record Plan(boolean shifted, int perChunk, int chunks, int maxCols) {
    }

    ColumnConvEngine(ThreadPool pool, ColumnKernels kernels) {
        this(pool, kernels, DEFAULT_BUDGET, DEFAULT_TARGET_COLS);
    }

    ColumnConvEngine(ThreadPool pool, ColumnKernels kernels, int budget, int targetCols) {
        this.pool = pool;
        this.kernels = kernels;
        this.budget = budget;
        this.targetCols = targetCols;
        this.spaces = new Workspace[pool.threads()];
        for (int t = 0; t < spaces.length; t++) spaces[t] = new Workspace();
    }

    @Override
    public String kernelName() {
        return kernels.name();
    }

    Plan plan(ConvGeometry g) {
        int m = kernels.columnMultiple(), p = g.positions(), n = g.n(), threads = pool.threads();
        // The backward holds x, dx (K rows each) and dy (O rows) per column.
        int maxCols = Math.max(m, budget / (2 * g.kk() + g.o()) / m * m);
        int ss = Im2col.shiftedColumns(g);
        boolean pointwise = g.k() == 1 && g.pad() == 0 && g.stride() == 1;
        boolean shifted = Im2col.shiftedFits(g) && !pointwise && !Im2col.fullWindow(g) && ss <= 2 * p
                && roundUp(ss, m) <= maxCols;
        int perSample = shifted ? ss : p;
        int want = Math.min(targetCols, maxCols);
        int perThread = (n + threads - 1) / threads;
        int nb = Math.max(1, Math.min(perThread, want / perSample));
        if (shifted) nb = Math.max(1, Math.min(nb, maxCols / perSample));
        int chunks = (n + nb - 1) / nb;
        // Round the chunk count up to a multiple of the thread count (static assignment), keep chunks even.
        chunks = Math.min(n, (chunks + threads - 1) / threads * threads);
        nb = (n + chunks - 1) / chunks;
        chunks = (n + nb - 1) / nb;
        return new Plan(shifted, nb, chunks, Math.min(maxCols, roundUp(nb * perSample, m)));
    }

    private int roundUp(int cols) {
        return roundUp(cols, kernels.columnMultiple());
    }

    private static int roundUp(int v, int m) {
        return (v + m - 1) / m * m;
    }

    private static float[] grow(float[] a, int size) {
        return a.length >= size ? a : new float[size];
    }

    private static int[] grow(int[] a, int size) {
        return a.length >= size ? a : new int[size];
    }

    /** Row offsets {@code r*ld} of a row-major column matrix. */
    private static void denseRows(int rows, int ld, int[] row) {
        for (int r = 0; r < rows; r++) row[r] = r * ld;
    }

    @Override
    public synchronized void adderForward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y) {
        forward(g, x, w, wOff, y, true);
    }

    @Override
    public synchronized void convForward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y) {
        forward(g, x, w, wOff, y, false);
    }

    @Override
    public synchronized void adderBackward(ConvGeometry g, float[] x, float[] w, int wOff, float[] dy, float[] dx,
                                           float[] dw, int dwOff) {
        backward(g, x, w, wOff, dy, dx, dw, dwOff, true);
    }

    @Override
    public synchronized void convBackward(ConvGeometry g, float[] x, float[] w, int wOff, float[] dy, float[] dx,
                                          float[] dw, int dwOff) {
        backward(g, x, w, wOff, dy, dx, dw, dwOff, false);
    }

    private void checkSizes(ConvGeometry g, float[] x, float[] w, int wOff, float[] y) {
        if (x.length < g.inputSize()) throw new IllegalArgumentException("input too short for " + g);
        if (wOff < 0 || w.length - wOff < g.filterSize()) throw new IllegalArgumentException("filters too short for " + g);
        if (y.length < g.outputSize()) throw new IllegalArgumentException("output too short for " + g);
    }

    /**
     * Puts the columns of samples [n0, n1) (shifted) or of the global column range [q0, q1) (explicit) into
     * {@code s.xcol}, sets {@code s.xRow}; returns the leading dimension.
     */
    private int loadColumns(ConvGeometry g, Plan plan, float[] x, int n0, int n1, int q0, int q1, Workspace s) {
        int kk = g.kk();
        s.xRow = grow(s.xRow, kk);
        if (plan.shifted()) {
            int ld = roundUp((n1 - n0) * Im2col.shiftedColumns(g)), cs = Im2col.shiftedChannelStride(g, ld);
            s.xcol = grow(s.xcol, g.c() * cs);
            Im2col.packShifted(g, x, n0, n1, cs, s.xcol);
            Im2col.shiftedRows(g, cs, s.xRow);
            return ld;
        }
        int ld = roundUp(q1 - q0);
        s.xcol = grow(s.xcol, kk * ld);
        Im2col.im2col(g, x, q0, q1, ld, s.xcol);
        denseRows(kk, ld, s.xRow);
        return ld;
    }

    private void forward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y, boolean adder) {
        checkSizes(g, x, w, wOff, y);
        Plan plan = plan(g);
        int p = g.positions(), o = g.o(), kk = g.kk(), n = g.n();
        // The conv forward's filters cut into reduction blocks of KB taps (block b holds w[:, b*KB .. b*KB+kb) as
        // o x kb rows at o*b*KB), so each block is one ordinary multiply whose output is then added to the running
        // sum. The adder forward blocks its sums the same way inside the kernel (see ColumnKernels.adderForward).
        float[] blocks = adder ? w : filterBlocks(w, wOff, o, kk);
        pool.parallelFor(plan.chunks(), (t, from, to) -> {
            Workspace s = spaces[t];
            for (int c = from; c < to; c++) {
                int n0 = c * plan.perChunk(), n1 = Math.min(n, n0 + plan.perChunk());
                int step = plan.shifted() ? (n1 - n0) * p : plan.maxCols();
                for (int q0 = n0 * p; q0 < n1 * p; q0 += step) {
                    int qe = Math.min(n1 * p, q0 + step);
                    int ld = loadColumns(g, plan, x, n0, n1, q0, qe, s);
                    s.ycol = grow(s.ycol, o * ld);
                    if (adder) {
                        kernels.adderForward(o, kk, ld, w, wOff, s.xcol, s.xRow, s.ycol);
                    } else if (kk <= ColumnKernels.KB) {
                        kernels.multiply(o, kk, ld, w, wOff, s.xcol, s.xRow, s.ycol);
                    } else {
                        s.block = grow(s.block, o * ld);
                        s.blockRow = s.blockRow == null || s.blockRow.length < ColumnKernels.KB ? new int[ColumnKernels.KB] : s.blockRow;
                        for (int k0 = 0; k0 < kk; k0 += ColumnKernels.KB) {
                            int kb = Math.min(ColumnKernels.KB, kk - k0);
                            System.arraycopy(s.xRow, k0, s.blockRow, 0, kb);
                            float[] out = k0 == 0 ? s.ycol : s.block;
                            kernels.multiply(o, kb, ld, blocks, o * k0, s.xcol, s.blockRow, out);
                            if (k0 > 0) kernels.addTo(s.block, 0, s.ycol, 0, o * ld);
                        }
                    }
                    if (plan.shifted()) Im2col.scatterShifted(g, s.ycol, ld, n0, n1, y);
                    else Im2col.scatterOutput(g, s.ycol, q0, qe, ld, y);
                }
            }
        });
    }

    /** The filters regrouped by reduction block, see {@link #forward}; reuses one array across calls. */
    private float[] filterBlocks(float[] w, int wOff, int o, int kk) {
        if (kk <= ColumnKernels.KB) return w;
        wBlocks = grow(wBlocks, o * kk);
        for (int k0 = 0; k0 < kk; k0 += ColumnKernels.KB) {
            int kb = Math.min(ColumnKernels.KB, kk - k0);
            for (int r = 0; r < o; r++) System.arraycopy(w, wOff + r * kk + k0, wBlocks, o * k0 + r * kb, kb);
        }
        return wBlocks;
    }

    private void backward(ConvGeometry g, float[] x, float[] w, int wOff, float[] dy, float[] dx, float[] dw,
                          int dwOff, boolean adder) {
        checkSizes(g, x, w, wOff, dy);
        if (dx != null && dx.length < g.inputSize()) throw new IllegalArgumentException("dx too short for " + g);
        if (dw != null && (dwOff < 0 || dw.length - dwOff < g.filterSize())) {
            throw new IllegalArgumentException("dw too short for " + g);
        }
        if (dx == null && dw == null) return;
        Plan plan = plan(g);
        int p = g.positions(), o = g.o(), kk = g.kk(), n = g.n(), chw = g.c() * g.h() * g.w();
        if (dx != null) transposeFilters(w, wOff, o, kk);
        for (Workspace s : spaces) {
            s.dw = grow(s.dw, o * kk);
            Arrays.fill(s.dw, 0, o * kk, 0f);
        }
        float[] wt = this.wt;
        pool.parallelFor(plan.chunks(), (t, from, to) -> {
            Workspace s = spaces[t];
            for (int c = from; c < to; c++) {
                int n0 = c * plan.perChunk(), n1 = Math.min(n, n0 + plan.perChunk());
                if (dx != null && !plan.shifted()) Arrays.fill(dx, n0 * chw, n1 * chw, 0f);
                int step = plan.shifted() ? (n1 - n0) * p : plan.maxCols();
                for (int q0 = n0 * p; q0 < n1 * p; q0 += step) {
                    int qe = Math.min(n1 * p, q0 + step);
                    int ld = loadColumns(g, plan, x, n0, n1, q0, qe, s);
                    s.ycol = grow(s.ycol, o * ld);
                    if (plan.shifted()) Im2col.gatherShifted(g, dy, n0, n1, ld, s.ycol);
                    else Im2col.gatherOutput(g, dy, q0, qe, ld, s.ycol);
                    if (dx != null) {
                        s.dxcol = grow(s.dxcol, kk * ld);
                        if (adder) {
                            kernels.adderInputGrad(o, kk, ld, wt, s.xcol, s.xRow, s.ycol, s.dxcol);
                        } else {
                            s.yRow = grow(s.yRow, o);
                            denseRows(o, ld, s.yRow);
                            kernels.multiply(kk, o, ld, wt, 0, s.ycol, s.yRow, s.dxcol);
                        }
                        if (plan.shifted()) {
                            int cs = Im2col.shiftedChannelStride(g, ld);
                            s.dxpad = grow(s.dxpad, g.c() * cs);
                            Im2col.col2imShifted(g, s.dxcol, ld, n0, n1, cs, s.dxpad, dx, kernels);
                        } else {
                            Im2col.col2im(g, s.dxcol, q0, qe, ld, dx);
                        }
                    }
                    if (dw != null) {
                        if (adder) kernels.adderFilterGrad(o, kk, ld, s.ycol, s.xcol, s.xRow, w, wOff, s.dw);
                        else kernels.filterGrad(o, kk, ld, s.ycol, s.xcol, s.xRow, s.dw);
                    }
                }
            }
        });
        if (dw == null) return;
        // Per-thread partial filter gradients, added in thread order (bit-reproducible for a thread count).
        for (int i = 0, size = o * kk; i < size; i++) {
            float sum = 0f;
            for (Workspace s : spaces) sum += s.dw[i];
            dw[dwOff + i] += sum;
        }
    }

    /** wt = W^T (K x O), so that an input-gradient block reads its filter values contiguously in o. */
    private void transposeFilters(float[] w, int wOff, int o, int kk) {
        wt = grow(wt, o * kk);
        for (int r = 0; r < o; r++) {
            for (int k = 0; k < kk; k++) wt[k * o + r] = w[wOff + r * kk + k];
        }
    }
}
