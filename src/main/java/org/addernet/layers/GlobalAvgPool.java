package org.addernet.layers;

import org.addernet.engine.Tensor;
import org.addernet.engine.TensorPool;

/**
 * Mean over each channel's H x W plane, giving (N, C, 1, 1). On the CIFAR ResNets' 8x8 maps this is the
 * reference's {@code AvgPool2d(8)}; for other input sizes it stays a global pool, as torchvision's
 * {@code AdaptiveAvgPool2d(1)}.
 */
public final class GlobalAvgPool implements Layer {
    private Tensor x, y;
    private TensorPool pool = new TensorPool();
    private TensorPool activations;

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
        Tensor y;
        if (activations != null) { // eval-only: a pooled output, the input not kept
            y = activations.take(x.n, x.c, 1, 1);
        } else {
            this.x = x;
            y = this.y = Tensor.reuse(this.y, x.n, x.c, 1, 1);
        }
        int hw = x.h * x.w, planes = x.n * x.c;
        for (int pl = 0; pl < planes; pl++) {
            double s = 0;
            for (int j = 0; j < hw; j++) s += x.data[pl * hw + j];
            y.data[pl] = (float) (s / hw);
        }
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        Tensor dx = pool.take(x.n, x.c, x.h, x.w);
        int hw = x.h * x.w, planes = x.n * x.c;
        for (int pl = 0; pl < planes; pl++) {
            float g = dy.data[pl] / hw;
            for (int j = 0; j < hw; j++) dx.data[pl * hw + j] = g;
        }
        pool.give(dy);
        return dx;
    }

    /** Nothing kept: the backward needs only the input shape. */
    @Override
    public Costs.Act describe(Costs.Act x, Costs costs) {
        Costs.Act out = new Costs.Act(x.c, 1, 1);
        costs.add("avgpool", "avgpool", out, 0, 0, x.c, x.c * (x.h * (long) x.w - 1), false);
        return out;
    }
}
