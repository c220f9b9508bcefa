package org.addernet.layers;

import org.addernet.engine.Tensor;
import org.addernet.engine.TensorPool;

/**
 * {@code y = max(x, 0)}; the gradient passes where the output is positive (PyTorch's choice at 0: none). The
 * backward works in place on {@code dy}. {@code inPlace} (PyTorch's {@code inplace=True}) writes the output over
 * the input: for a ReLU after a BatchNorm, whose backward needs its input but not its output, that saves one
 * activation tensor per ReLU. The models fuse their ReLUs into the BatchNorm before them
 * ({@link BatchNorm2d#setRelu}) or the residual sum ({@link Residual}); this layer is the unfused reference.
 */
public final class ReLU implements Layer {
    private final boolean inPlace;
    private Tensor y;
    private TensorPool activations;

    public ReLU() {
        this(false);
    }

    public ReLU(boolean inPlace) {
        this.inPlace = inPlace;
    }

    @Override
    public void setActivationPool(TensorPool pool) {
        this.activations = pool;
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        long t0 = PassTimes.start();
        if (activations != null) { // eval-only: in place or a pooled output, nothing kept
            Tensor out = inPlace ? x : activations.take(x.n, x.c, x.h, x.w);
            forward(x.data, out.data, x.size());
            PassTimes.done(PassTimes.Kind.RELU, t0);
            return out;
        }
        y = inPlace ? x : Tensor.reuse(y, x.n, x.c, x.h, x.w);
        forward(x.data, y.data, x.size());
        PassTimes.done(PassTimes.Kind.RELU, t0);
        return y;
    }

    static void forward(float[] x, float[] y, int size) {
        Passes.get().relu(x, y, 0, size);
    }

    @Override
    public Tensor backward(Tensor dy) {
        long t0 = PassTimes.start();
        Passes.get().reluGradient(y.data, dy.data, null, 0, y.size()); // dx overwrites dy
        PassTimes.done(PassTimes.Kind.RELU, t0);
        return dy;
    }

    @Override
    public Costs.Act describe(Costs.Act x, Costs costs) {
        Costs.Act out = new Costs.Act(x.c, x.h, x.w);
        costs.keep(out);
        costs.add("relu", "relu", out, 0, 0, 0, 0, false);
        return out;
    }
}
