package org.addernet.layers;

import org.addernet.engine.Engine;
import org.addernet.engine.Tensor;
import org.addernet.engine.TensorPool;
import org.addernet.engine.ThreadPool;

/**
 * PyTorch {@code MaxPool2d(k, stride, padding)} (floor mode): padded positions never win. The index of each
 * window's maximum (first one on ties, as PyTorch's CPU kernel) is kept for the backward pass. Planes (sample,
 * channel) are independent, forward and backward, so they are split over the engine's threads when one is given.
 */
public final class MaxPool2d implements Layer {
    private final int k, stride, pad;
    private Tensor x, y;
    private int[] argmax = new int[0];
    private TensorPool pool = new TensorPool();
    private TensorPool activations;
    /** Threads to split the planes over (null: the calling thread). */
    private final ThreadPool threads;

    public MaxPool2d(int k, int stride, int pad) {
        this(null, k, stride, pad);
    }

    public MaxPool2d(Engine engine, int k, int stride, int pad) {
        this.threads = engine == null ? null : engine.pool();
        if (pad * 2 > k) throw new IllegalArgumentException("pad should be at most half the kernel size");
        this.k = k;
        this.stride = stride;
        this.pad = pad;
    }

    @Override
    public void setPool(TensorPool pool) {
        this.pool = pool;
    }

    @Override
    public void setActivationPool(TensorPool pool) {
        this.activations = pool;
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        long t0 = PassTimes.start();
        int ho = (x.h + 2 * pad - k) / stride + 1, wo = (x.w + 2 * pad - k) / stride + 1;
        Tensor y;
        if (activations != null) { // eval-only: a pooled output; neither the input nor the argmax are kept
            y = activations.take(x.n, x.c, ho, wo);
        } else {
            this.x = x;
            y = this.y = Tensor.reuse(this.y, x.n, x.c, ho, wo);
        }
        // The argmax is backward state: only a training forward records it (4 bytes per output).
        if (training && argmax.length < y.size()) argmax = new int[y.size()];
        final int[] am = training ? argmax : null;
        float[] xd = x.data, yd = y.data;
        int planes = x.n * x.c, h = x.h, w = x.w;
        Passes.split(threads, planes, x.size(), (from, to) -> {
            float[] rowMax = new float[w + 2 * pad];
            int[] rowArg = am == null ? null : new int[w + 2 * pad];
            for (int pl = from; pl < to; pl++) forwardPlane(xd, pl * h * w, h, w, yd, am, pl * ho * wo, ho, wo, rowMax, rowArg);
        });
        PassTimes.done(PassTimes.Kind.POOLING, t0);
        return y;
    }

    /**
     * One plane (a sample's channel), row-major: input {@code x[xb + r*w + c]}, output {@code y[yb + i*wo + j]}, the
     * argmax (if {@code am} is not null) as an index into {@code x}. Per output row {@code i}, two plain loops over
     * flat floats: {@code rowMax[pad + c]} = the maximum of column {@code c} over the window's valid input rows
     * (C2 vectorizes it), the {@code pad} entries at each end -inf; then {@code y[j]} = the maximum of
     * {@code rowMax[j*stride .. j*stride + k)} (branch-free: the old per-tap {@code val > best} branch mispredicted
     * on every new maximum). Padding never wins (-inf, and a window always holds a valid value as {@code pad <= k/2}).
     *
     * <p>Same bits as the definition ({@link #firstMax}): {@code Math.max} gives the value of the window's first
     * maximum unless that value is NaN or a zero (every element equal to another value has its bits; but
     * {@code Math.max} prefers +0 to -0 and propagates a NaN the definition skips), so a window whose maximum is
     * NaN or +-0 takes {@link #firstMax} instead. The argmax is then the first valid position, in the window's
     * row-major order, whose value equals the maximum.
     */
    private void forwardPlane(float[] x, int xb, int h, int w, float[] y, int[] am, int yb, int ho, int wo, float[] rowMax, int[] rowArg) {
        java.util.Arrays.fill(rowMax, 0, pad, Float.NEGATIVE_INFINITY);
        java.util.Arrays.fill(rowMax, pad + w, w + 2 * pad, Float.NEGATIVE_INFINITY);
        if (am != null) {
            java.util.Arrays.fill(rowArg, 0, pad, Integer.MAX_VALUE);
            java.util.Arrays.fill(rowArg, pad + w, w + 2 * pad, Integer.MAX_VALUE);
        }
        for (int i = 0; i < ho; i++) {
            int r0 = Math.max(0, i * stride - pad), r1 = Math.min(h, i * stride - pad + k);
            System.arraycopy(x, xb + r0 * w, rowMax, pad, w);
            for (int r = r0 + 1; r < r1; r++) {
                int off = xb + r * w;
                for (int c = 0; c < w; c++) rowMax[pad + c] = Math.max(rowMax[pad + c], x[off + c]);
            }
            int out = yb + i * wo;
            for (int j = 0; j < wo; j++) {
                int c0 = j * stride;
                float m = rowMax[c0];
                for (int v = 1; v < k; v++) m = Math.max(m, rowMax[c0 + v]);
                y[out + j] = m;
            }
            if (am != null) {
                // rowArg[pad + c]: the first row of column c holding its maximum's bits; then per output the first
                // (row-major) of its columns' positions whose maximum is m's bits: the least index, see firstEqual.
                java.util.Arrays.fill(rowArg, pad, pad + w, Integer.MAX_VALUE);
                for (int r = r0; r < r1; r++) {
                    int off = xb + r * w;
                    for (int c = 0; c < w; c++) {
                        rowArg[pad + c] = Math.min(rowArg[pad + c], (off + c) | unequal(x[off + c], rowMax[pad + c]));
                    }
                }
                for (int j = 0; j < wo; j++) {
                    int c0 = j * stride, first = Integer.MAX_VALUE;
                    float m = y[out + j];
                    for (int v = 0; v < k; v++) first = Math.min(first, rowArg[c0 + v] | unequal(rowMax[c0 + v], m));
                    am[out + j] = first;
                }
            }
            for (int j = 0; j < wo; j++) {
                float m = y[out + j];
                if (m != m || m == 0f) {
                    int c0 = Math.max(0, j * stride - pad), c1 = Math.min(w, j * stride - pad + k);
                    int idx = firstMax(x, xb + r0 * w, r1 - r0, w, c0, c1);
                    y[out + j] = x[idx];
                    if (am != null) am[out + j] = idx;
                }
            }
        }
    }

    /**
     * 0 where {@code a} and {@code b} have the same bits, else {@code Integer.MAX_VALUE}: or-ed onto an index, it
     * leaves a match's index and turns the others into the largest int, so a {@code Math.min} over a window's
     * positions, in any order, picks the first (row-major) match without a branch per value (the old per-value
     * {@code val > best} branch, and an early exit, each mispredicted about once per window). Used only where the
     * maximum is neither NaN nor a zero, so that equal values have equal bits.
     */
    private static int unequal(float a, float b) {
        int diff = Float.floatToRawIntBits(a) ^ Float.floatToRawIntBits(b);
        return (diff | -diff) >>> 1; // diff != 0: the sign bit of diff | -diff is set
    }

    /**
     * The definition (PyTorch's CPU kernel before NaN propagation, and this layer's since it exists): over the window's
     * valid rows {@code rows} (from {@code base}) and columns {@code [c0, c1)} in row-major order, the first value
     * initializes the maximum and a later one replaces it only if strictly greater; returns its index. A NaN therefore
     * wins only as the window's first value, and of equal zeros the first.
     */
    private static int firstMax(float[] x, int base, int rows, int w, int c0, int c1) {
        int best = base + c0;
        for (int r = 0; r < rows; r++) {
            for (int c = c0; c < c1; c++) {
                int idx = base + r * w + c;
                if (x[idx] > x[best]) best = idx;
            }
        }
        return best;
    }

    @Override
    public Tensor backward(Tensor dy) {
        long t0 = PassTimes.start();
        Tensor dx = pool.take(x.n, x.c, x.h, x.w);
        // A plane's outputs add only into the same plane of dx, in output order.
        int planes = x.n * x.c, in = x.h * x.w, out = y.h * y.w;
        float[] dxd = dx.data, dyd = dy.data;
        int[] argmax = this.argmax;
        // Per plane: zero it, then add its outputs' gradients in output order (while the plane is in cache).
        Passes.split(threads, planes, x.size(), (from, to) -> {
            for (int pl = from; pl < to; pl++) {
                java.util.Arrays.fill(dxd, pl * in, (pl + 1) * in, 0f);
                for (int i = pl * out, end = (pl + 1) * out; i < end; i++) dxd[argmax[i]] += dyd[i];
            }
        });
        pool.give(dy);
        PassTimes.done(PassTimes.Kind.POOLING, t0);
        return dx;
    }

    /** Keeps only the argmax indices for backward (4 bytes per output), not its input. */
    @Override
    public Costs.Act describe(Costs.Act x, Costs costs) {
        Costs.Act out = new Costs.Act(x.c, (x.h + 2 * pad - k) / stride + 1, (x.w + 2 * pad - k) / stride + 1);
        costs.keepBytes(4 * out.size());
        costs.add("maxpool", "maxpool " + k + "x" + k + "/" + stride, out, 0, 0, 0, 0, false);
        return out;
    }
}
