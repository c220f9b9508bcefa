package org.addernet.layers;

import org.addernet.engine.Tensor;
import org.addernet.engine.TensorPool;

/**
 * The ResNet residual wiring {@code relu(main(x) + shortcut(x))}, where the shortcut is the identity or
 * {@code downsample} (1x1 adder/conv + BN) when the shape changes. {@code main} is the basic block's
 * conv-bn-relu-conv-bn or the bottleneck's three convolutions; their parameters are named by the caller
 * ({@code layerS.B.conv1}, ...), so this class only wires the sum. {@code inPlace} (torchvision's
 * {@code out += identity}) writes the sum over main's output, which is right when main's backward does not need
 * its own output (it ends with a BatchNorm).
 */
public final class Residual implements Layer {
    private final String name;
    private final Layer main;
    private final Layer downsample; // null: identity shortcut
    private final boolean inPlace;
    private TensorPool pool = new TensorPool();
    private TensorPool activations;
    private Tensor out;

    public Residual(String name, Layer main, Layer downsample, boolean inPlace) {
        this.name = name;
        this.main = main;
        this.downsample = downsample;
        this.inPlace = inPlace;
    }

    @Override
    public void setNeedsInputGrad(boolean needed) {
        main.setNeedsInputGrad(needed);
        if (downsample != null) downsample.setNeedsInputGrad(needed);
    }

    @Override
    public void setPool(TensorPool pool) {
        this.pool = pool;
        main.setPool(pool);
        if (downsample != null) downsample.setPool(pool);
    }

    @Override
    public void setActivationPool(TensorPool pool) {
        this.activations = pool;
        main.setActivationPool(pool);
        if (downsample != null) downsample.setActivationPool(pool);
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        Tensor m = main.forward(x, training);
        Tensor s = downsample == null ? x : downsample.forward(x, training);
        if (!m.sameShape(s)) throw new IllegalStateException("residual shapes differ: " + m + " vs " + s);
        Tensor out = inPlace ? m : activations != null ? activations.take(m.n, m.c, m.h, m.w) : Tensor.reuse(this.out, m.n, m.c, m.h, m.w);
        int size = m.size();
        for (int i = 0; i < size; i++) out.data[i] = Math.max(m.data[i] + s.data[i], 0f);
        if (activations != null) { // eval-only: the branches' outputs are consumed (x is the caller's)
            if (s != x) activations.give(s);
            if (out != m) activations.give(m);
        } else {
            this.out = out;
        }
        return out;
    }

    @Override
    public Tensor backward(Tensor dy) {
        int size = out.size();
        ReLU.backward(out.data, dy.data, dy.data, size);
        // Both branches consume their gradient, so the shortcut gets a copy.
        Tensor dCopy = pool.take(out.n, out.c, out.h, out.w);
        System.arraycopy(dy.data, 0, dCopy.data, 0, size);
        Tensor dMain = main.backward(dy);
        Tensor dShort = downsample == null ? dCopy : downsample.backward(dCopy);
        if (dMain != null) {
            int inSize = dMain.size();
            for (int i = 0; i < inSize; i++) dMain.data[i] += dShort.data[i];
        }
        pool.give(dShort);
        return dMain;
    }

    @Override
    public Costs.Act describe(Costs.Act x, Costs costs) {
        Costs.Act m = main.describe(x, costs);
        Costs.Act s = downsample == null ? x : downsample.describe(x, costs);
        if (m.c != s.c || m.h != s.h || m.w != s.w) throw new IllegalStateException("residual shapes differ: " + m + " vs " + s);
        Costs.Act y = new Costs.Act(m.c, m.h, m.w);
        costs.keep(y);
        costs.add(name, "add+relu", y, 0, 0, 0, y.size(), false);
        return y;
    }
}
