package org.addernet.layers;

import org.addernet.engine.Tensor;

/**
 * The ResNet basic block: {@code relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))}, where the shortcut is
 * the identity or {@code downsample} (1x1 adder/conv + BN) when the shape changes. Parameters are named by
 * the caller ({@code layerS.B.conv1}, ...), so this class only wires the residual sum.
 */
public final class BasicBlock implements Layer {
    private final Layer main;
    private final Layer downsample; // null: identity shortcut
    private Tensor out, dSum, dx;

    public BasicBlock(Layer main, Layer downsample) {
        this.main = main;
        this.downsample = downsample;
    }

    @Override
    public void setNeedsInputGrad(boolean needed) {
        main.setNeedsInputGrad(needed);
        if (downsample != null) downsample.setNeedsInputGrad(needed);
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        Tensor m = main.forward(x, training);
        Tensor s = downsample == null ? x : downsample.forward(x, training);
        if (!m.sameShape(s)) throw new IllegalStateException("residual shapes differ: " + m + " vs " + s);
        out = Tensor.reuse(out, m.n, m.c, m.h, m.w);
        int size = m.size();
        for (int i = 0; i < size; i++) out.data[i] = Math.max(m.data[i] + s.data[i], 0f);
        return out;
    }

    @Override
    public Tensor backward(Tensor dy) {
        dSum = Tensor.reuse(dSum, out.n, out.c, out.h, out.w);
        ReLU.backward(out.data, dy.data, dSum.data, out.size());
        Tensor dMain = main.backward(dSum);
        Tensor dShort = downsample == null ? dSum : downsample.backward(dSum);
        if (dMain == null) return null;
        dx = Tensor.reuse(dx, dMain.n, dMain.c, dMain.h, dMain.w);
        int size = dx.size();
        for (int i = 0; i < size; i++) dx.data[i] = dMain.data[i] + dShort.data[i];
        return dx;
    }
}
