package org.addernet.kernels;

import java.util.Arrays;
import org.addernet.engine.ThreadPool;

/**
 * The {@link ConvEngine}: im2col per chunk of samples, microkernels from {@link ColumnKernels}, threads from
 * {@link ThreadPool#parallelFor} over chunks.
 *
 * <p>The batch is cut into chunks of {@code nb} whole samples (so that no two threads ever add into the same
 * sample of {@code dx}); a chunk is processed in pieces of at most {@code maxCols} columns (a piece is a
 * range of the global column index {@code q = n*Ho*Wo + pos}, so a huge sample is split by positions and
 * the workspace stays bounded by {@code budget} floats per thread whatever the layer). Each thread owns a
 * workspace (column matrices, a partial filter gradient and a partial rowsum of dy), allocated once and grown
 * on demand; partials are added in thread order after the loop, so a call is bit-reproducible for a fixed
 * thread count.
 *
 * <p>Also accepts {@code dw == null} in the backward calls (filter gradient not needed); benchmarks use it to
 * time the input gradient alone. Calls are serialized ({@code synchronized}): the workspaces are shared.
 */
final class ColumnConvEngine implements ConvEngine {
    /** Floats of column workspace per thread: 8 MB. */
    static final int DEFAULT_BUDGET = 1 << 21;
    /**
     * Columns per piece we aim for: the filter gradient does 16 lane-ordered horizontal sums per 4x4 block
     * per piece, which costs ~10% at 2048 columns.
     */
    static final int DEFAULT_TARGET_COLS = 2048;

    private final ThreadPool pool;
    private final ColumnKernels kernels;
    private final int budget;
    private final int targetCols;
    private final Workspace[] spaces;
    private float[] wtHi = new float[0], wtLo = new float[0];

    private static final class Workspace {
        float[] xcol = new float[0], ycol = new float[0], dxcol = new float[0], dw = new float[0], rows = new float[0];
    }

    /** How a batch is cut: chunks of {@code perChunk} samples, processed in pieces of at most {@code maxCols}. */
    record Plan(int perChunk, int chunks, int maxCols) {
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
        int want = Math.min(targetCols, maxCols);
        int perThread = (n + threads - 1) / threads;
        int nb = Math.max(1, Math.min(perThread, want / p));
        int chunks = (n + nb - 1) / nb;
        // Round the chunk count up to a multiple of the thread count (static assignment), keep chunks even.
        chunks = Math.min(n, (chunks + threads - 1) / threads * threads);
        nb = (n + chunks - 1) / chunks;
        chunks = (n + nb - 1) / nb;
        return new Plan(nb, chunks, Math.min(maxCols, roundUp(nb * p, m)));
    }

    private int roundUp(int cols) {
        int m = kernels.columnMultiple();
        return (cols + m - 1) / m * m;
    }

    private static int roundUp(int v, int m) {
        return (v + m - 1) / m * m;
    }

    private static float[] grow(float[] a, int size) {
        return a.length >= size ? a : new float[size];
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

    private void forward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y, boolean adder) {
        checkSizes(g, x, w, wOff, y);
        Plan plan = plan(g);
        int p = g.positions(), o = g.o(), kk = g.kk(), n = g.n();
        pool.parallelFor(plan.chunks(), (t, from, to) -> {
            Workspace s = spaces[t];
            s.xcol = grow(s.xcol, kk * plan.maxCols());
            s.ycol = grow(s.ycol, o * plan.maxCols());
            for (int c = from; c < to; c++) {
                int q1 = Math.min(n, (c + 1) * plan.perChunk()) * p;
                for (int q0 = c * plan.perChunk() * p; q0 < q1; q0 += plan.maxCols()) {
                    int qe = Math.min(q1, q0 + plan.maxCols()), ld = roundUp(qe - q0);
                    Im2col.im2col(g, x, q0, qe, ld, s.xcol);
                    if (adder) kernels.adderForward(o, kk, ld, w, wOff, s.xcol, s.ycol);
                    else kernels.multiply(o, kk, ld, w, wOff, s.xcol, s.ycol);
                    Im2col.scatterOutput(g, s.ycol, q0, qe, ld, y);
                }
            }
        });
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
        if (dx != null) transposeFilters(w, wOff, o, kk, adder);
        for (Workspace s : spaces) {
            s.dw = grow(s.dw, o * kk);
            s.rows = grow(s.rows, o);
            Arrays.fill(s.dw, 0, o * kk, 0f);
            Arrays.fill(s.rows, 0, o, 0f);
        }
        float[] hi = wtHi, lo = wtLo;
        pool.parallelFor(plan.chunks(), (t, from, to) -> {
            Workspace s = spaces[t];
            s.xcol = grow(s.xcol, kk * plan.maxCols());
            s.ycol = grow(s.ycol, o * plan.maxCols());
            if (dx != null) s.dxcol = grow(s.dxcol, kk * plan.maxCols());
            for (int c = from; c < to; c++) {
                int n0 = c * plan.perChunk(), n1 = Math.min(n, n0 + plan.perChunk());
                if (dx != null) Arrays.fill(dx, n0 * chw, n1 * chw, 0f);
                for (int q0 = n0 * p; q0 < n1 * p; q0 += plan.maxCols()) {
                    int qe = Math.min(n1 * p, q0 + plan.maxCols()), ld = roundUp(qe - q0);
                    Im2col.im2col(g, x, q0, qe, ld, s.xcol);
                    Im2col.gatherOutput(g, dy, q0, qe, ld, s.ycol);
                    if (dx != null) {
                        if (adder) kernels.adderInputGrad(o, kk, ld, hi, lo, s.xcol, s.ycol, s.dxcol);
                        else kernels.multiply(kk, o, ld, hi, 0, s.ycol, s.dxcol);
                        Im2col.col2im(g, s.dxcol, q0, qe, ld, dx);
                    }
                    if (dw != null) {
                        kernels.filterGrad(o, kk, ld, s.ycol, s.xcol, s.dw);
                        if (adder) kernels.rowSums(o, ld, s.ycol, s.rows);
                    }
                }
            }
        });
        if (dw == null) return;
        // dW_raw = dY.Xcol^T - W * rowsum(dY) for the adder (DESIGN section 1); partials in thread order.
        for (int r = 0; r < o; r++) {
            float rows = 0f;
            for (Workspace s : spaces) rows += s.rows[r];
            for (int k = 0; k < kk; k++) {
                int i = r * kk + k;
                float sum = 0f;
                for (Workspace s : spaces) sum += s.dw[i];
                if (adder) sum -= w[wOff + i] * rows;
                dw[dwOff + i] += sum;
            }
        }
    }

    /** wtHi/wtLo = W^T +- 1 (K x O) for the adder input gradient, or wtHi = W^T for the conv one. */
    private void transposeFilters(float[] w, int wOff, int o, int kk, boolean adder) {
        wtHi = grow(wtHi, o * kk);
        wtLo = grow(wtLo, o * kk);
        float shift = adder ? 1f : 0f;
        for (int r = 0; r < o; r++) {
            for (int k = 0; k < kk; k++) {
                float v = w[wOff + r * kk + k];
                wtHi[k * o + r] = v + shift;
                if (adder) wtLo[k * o + r] = v - 1f;
            }
        }
    }
}
