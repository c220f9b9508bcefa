package org.addernet.layers;

import org.addernet.engine.Tensor;
import org.addernet.engine.TensorPool;

/**
 * PyTorch {@code MaxPool2d(k, stride, padding)} (floor mode): padded positions never win. The index of each
 * window's maximum (first one on ties, as PyTorch's CPU kernel) is kept for the backward pass.
 */
public final class MaxPool2d implements Layer {
    private final int k, stride, pad;
    private Tensor x, y;
    private int[] argmax = new int[0];
    private TensorPool pool = new TensorPool();
    private TensorPool activations;

    public MaxPool2d(int k, int stride, int pad) {
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
        int[] am = training ? argmax : null;
        float[] xd = x.data, yd = y.data;
        int planes = x.n * x.c, h = x.h, w = x.w;
        for (int pl = 0; pl < planes; pl++) {
            int xb = pl * h * w, yb = pl * ho * wo;
            for (int i = 0; i < ho; i++) {
                for (int j = 0; j < wo; j++) {
                    float best = Float.NEGATIVE_INFINITY;
                    int bestIdx = -1;
                    for (int u = 0; u < k; u++) {
                        int r = i * stride - pad + u;
                        if (r < 0 || r >= h) continue;
                        for (int v = 0; v < k; v++) {
                            int col = j * stride - pad + v;
                            if (col < 0 || col >= w) continue;
                            float val = xd[xb + r * w + col];
                            if (bestIdx < 0 || val > best) {
                                best = val;
                                bestIdx = xb + r * w + col;
                            }
                        }
                    }
                    yd[yb + i * wo + j] = best;
                    if (am != null) am[yb + i * wo + j] = bestIdx;
                }
            }
        }
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        Tensor dx = pool.take(x.n, x.c, x.h, x.w);
        java.util.Arrays.fill(dx.data, 0, dx.size(), 0f);
        int size = y.size();
        for (int i = 0; i < size; i++) dx.data[argmax[i]] += dy.data[i];
        pool.give(dy);
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
