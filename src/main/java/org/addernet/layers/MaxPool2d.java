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
            for (int pl = from; pl < to; pl++) {
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
        });
        PassTimes.done(PassTimes.Kind.POOLING, t0);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        long t0 = PassTimes.start();
        Tensor dx = pool.take(x.n, x.c, x.h, x.w);
        // A plane's outputs add only into the same plane of dx, in output order.
        int planes = x.n * x.c, in = x.h * x.w, out = y.h * y.w;
        float[] dxd = dx.data, dyd = dy.data;
        int[] argmax = this.argmax;
        Passes.split(threads, planes, x.size(), (from, to) -> {
            java.util.Arrays.fill(dxd, from * in, to * in, 0f);
            for (int i = from * out, end = to * out; i < end; i++) dxd[argmax[i]] += dyd[i];
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
