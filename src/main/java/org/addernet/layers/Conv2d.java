package org.addernet.layers;

import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Rng;
import org.addernet.engine.Tensor;
import org.addernet.engine.TensorPool;
import org.addernet.kernels.ConvGeometry;
import org.addernet.kernels.OutputMap;

/**
 * A 2-D adder layer ({@code adder2d}: {@code Y = -sum |X - F|}) or its CNN twin (PyTorch {@code Conv2d}),
 * OIHW filters named {@code <name>.adder} or {@code <name>.weight}, optional bias {@code <name>.bias}.
 * The kernels are in {@link org.addernet.kernels}; this class only binds shapes and parameter offsets.
 */
public final class Conv2d implements Layer {
    private final Engine engine;
    private final String name;
    private final Params.Builder builder;
    private Params params;
    private final boolean adder;
    private final int in, out, k, stride, pad;
    private final int wOff, bOff;
    private boolean needsInputGrad = true;
    private Tensor x, y;
    private TensorPool pool = new TensorPool();
    /** Non-null in an eval-only model (see {@link Layer#setActivationPool}). */
    private TensorPool activations;

    public Conv2d(Engine engine, Params.Builder pb, String name, boolean adder, int in, int out, int k, int stride, int pad, boolean bias) {
        this.engine = engine;
        this.name = name;
        this.builder = pb;
        this.adder = adder;
        this.in = in;
        this.out = out;
        this.k = k;
        this.stride = stride;
        this.pad = pad;
        this.wOff = pb.add(name + (adder ? ".adder" : ".weight"), adder ? Params.Kind.ADDER : Params.Kind.CONV, out, in, k, k);
        this.bOff = bias ? pb.add(name + ".bias", Params.Kind.BIAS, out) : -1;
    }

    /**
     * Initial values as the reference does: adder filters ~ N(0, 1) (the official {@code adder2d}); conv
     * filters and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default Conv2d init). With
     * {@code kaimingFanOut} conv filters are ~ N(0, 2/fan_out) instead, {@code fan_out = out*k*k}: the ImageNet
     * ResNets' {@code kaiming_normal_(mode='fan_out', nonlinearity='relu')} (torchvision, official AdderNet),
     * which leaves adder filters and biases at their defaults.
     */
    public void init(Rng rng, boolean kaimingFanOut) {
        float[] d = params().data;
        int n = out * in * k * k;
        double bound = 1.0 / Math.sqrt((double) in * k * k), std = Math.sqrt(2.0 / ((double) out * k * k));
        for (int i = 0; i < n; i++) {
            if (adder) d[wOff + i] = (float) rng.nextGaussian();
            else if (kaimingFanOut) d[wOff + i] = (float) (rng.nextGaussian() * std);
            else d[wOff + i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        }
        if (bOff >= 0) for (int i = 0; i < out; i++) d[bOff + i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
    }

    private Params params() {
        if (params == null) params = builder.build();
        return params;
    }

    public ConvGeometry geometry(int n, int h, int w) {
        return new ConvGeometry(n, in, h, w, out, k, stride, pad);
    }

    @Override
    public void setNeedsInputGrad(boolean needed) {
        this.needsInputGrad = needed;
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
        if (x.c != in) throw new IllegalArgumentException("layer expects " + in + " input channels, got " + x);
        ConvGeometry g = geometry(x.n, x.h, x.w);
        Tensor y;
        if (activations != null) { // eval-only: the output is pooled, the input not kept (no backward)
            if (training) throw new IllegalStateException("layer " + name + " belongs to an eval-only model: no training forward");
            y = activations.take(x.n, out, g.ho(), g.wo());
        } else {
            this.x = x;
            y = this.y = Tensor.reuse(this.y, x.n, out, g.ho(), g.wo());
        }
        Params p = params();
        p.awaitData(Math.max(wOff + g.filterSize(), bOff + out)); // the weights may still be arriving (bOff -1: no bias)
        if (adder) engine.conv().adderForward(g, x.data, p.data, wOff, y.data);
        else engine.conv().convForward(g, x.data, p.data, wOff, y.data);
        if (bOff >= 0) {
            int hw = g.positions();
            for (int n = 0; n < x.n; n++)
                for (int o = 0; o < out; o++) {
                    float b = p.data[bOff + o];
                    int base = (n * out + o) * hw;
                    for (int i = 0; i < hw; i++) y.data[base + i] += b;
                }
        }
        return y;
    }

    /**
     * The eval-only forward with {@code map} (the next BatchNorm, its ReLU, a residual sum) applied by the engine as it
     * writes the outputs: one parallel call and no pass of its own for the BatchNorm. Only without a bias (the bias
     * would come between the sums and the map); see {@link Sequential}.
     */
    Tensor forwardEval(Tensor x, OutputMap map) {
        if (activations == null) throw new IllegalStateException("layer " + name + " is not part of an eval-only model");
        if (bOff >= 0) throw new IllegalStateException("layer " + name + " has a bias: no fused eval forward");
        if (x.c != in) throw new IllegalArgumentException("layer expects " + in + " input channels, got " + x);
        ConvGeometry g = geometry(x.n, x.h, x.w);
        Tensor y = activations.take(x.n, out, g.ho(), g.wo());
        if (adder) engine.conv().adderForward(g, x.data, params().data, wOff, y.data, map);
        else engine.conv().convForward(g, x.data, params().data, wOff, y.data, map);
        return y;
    }

    /** True when {@link #forwardEval} applies (no bias). */
    boolean fusable() {
        return bOff < 0;
    }

    int outChannels() {
        return out;
    }

    @Override
    public Tensor backward(Tensor dy) {
        ConvGeometry g = geometry(x.n, x.h, x.w);
        Params p = params();
        Tensor dx = needsInputGrad ? pool.take(x.n, x.c, x.h, x.w) : null;
        float[] dxData = dx == null ? null : dx.data;
        if (adder) engine.conv().adderBackward(g, x.data, p.data, wOff, dy.data, dxData, p.grad, wOff);
        else engine.conv().convBackward(g, x.data, p.data, wOff, dy.data, dxData, p.grad, wOff);
        if (bOff >= 0) {
            int hw = g.positions();
            for (int n = 0; n < x.n; n++)
                for (int o = 0; o < out; o++) {
                    double s = 0;
                    int base = (n * out + o) * hw;
                    for (int i = 0; i < hw; i++) s += dy.data[base + i];
                    p.grad[bOff + o] += (float) s;
                }
        }
        // This layer adds nothing more to its gradients in this backward (the sharded step may send them now).
        p.gradientReady(wOff, wOff + g.filterSize());
        if (bOff >= 0) p.gradientReady(bOff, bOff + out);
        pool.give(dy);
        return dx;
    }

    /**
     * Keeps its input (for the filter gradient, and the adder input gradient). A conv MAC is 1 multiplication +
     * 1 addition; an adder accumulate {@code |x - w|} is 2 additions (subtract, accumulate; the absolute value
     * clears a sign bit); a bias 1 addition per output.
     */
    @Override
    public Costs.Act describe(Costs.Act x, Costs costs) {
        if (x.c != in) throw new IllegalArgumentException("layer " + name + " expects " + in + " input channels, got " + x);
        ConvGeometry g = geometry(1, x.h, x.w);
        Costs.Act y = new Costs.Act(out, g.ho(), g.wo());
        costs.keep(x);
        long macs = g.ops(), biasAdds = bOff >= 0 ? y.size() : 0;
        long params = (long) g.filterSize() + (bOff >= 0 ? out : 0);
        String op = (adder ? "adder " : "conv ") + k + "x" + k + "/" + stride;
        costs.add(name, op, y, params, macs, adder ? 0 : macs, (adder ? 2 * macs : macs) + biasAdds, true);
        return y;
    }
}
