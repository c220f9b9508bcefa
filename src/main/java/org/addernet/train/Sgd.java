package org.addernet.train;

import org.addernet.engine.Params;

/**
 * SGD exactly as PyTorch's {@code torch.optim.SGD} (dampening 0), one loop over the flat parameter buffer:
 * {@code g = grad + weight_decay * w}; {@code buf = g} on the first step, else {@code buf = momentum * buf + g};
 * {@code w -= lr * buf} (Nesterov: {@code w -= lr * (g + momentum * buf)}). Weight decay applies to every
 * parameter, BN ones included, as when the whole {@code model.parameters()} is passed to PyTorch.
 *
 * <p>Before that, {@link #scaleAdderGradients} turns each adder layer's full-precision gradient into the
 * adaptive-learning-rate one (the paper's Eq. 12-13), on the gradient of the whole global batch.
 */
public final class Sgd {
    private final double momentum, weightDecay, eta;
    private final boolean nesterov;
    private final float[] momentumBuffer;
    private long steps;

    public Sgd(int size, double momentum, double weightDecay, boolean nesterov, double eta) {
        if (momentum < 0 || weightDecay < 0 || eta <= 0) {
            throw new IllegalArgumentException("need momentum >= 0, weight_decay >= 0, eta > 0");
        }
        if (nesterov && momentum == 0) throw new IllegalArgumentException("nesterov needs momentum > 0");
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
        this.eta = eta;
        this.momentumBuffer = new float[size];
    }

    public double eta() { return eta; }
    /** Optimizer steps taken so far (0 means the momentum buffer is not yet initialized). */
    public long steps() { return steps; }
    public float[] momentumBuffer() { return momentumBuffer; }

    /** Restores state from a checkpoint. */
    public void restore(float[] buffer, long steps) {
        if (buffer.length != momentumBuffer.length) {
            throw new IllegalArgumentException("momentum buffer has " + buffer.length + " floats, model has " + momentumBuffer.length);
        }
        System.arraycopy(buffer, 0, momentumBuffer, 0, buffer.length);
        this.steps = steps;
    }

    /**
     * {@code grad <- grad * eta * sqrt(numel) / max(||grad||_2, 1e-12)} for every adder filter, in place. The norm
     * is taken in double: it is over up to millions of elements.
     */
    public static void scaleAdderGradients(Params p, double eta) {
        for (Params.View v : p.params()) {
            if (v.kind() != Params.Kind.ADDER) continue;
            int off = v.offset(), n = v.size();
            double ss = 0;
            for (int i = 0; i < n; i++) ss += (double) p.grad[off + i] * p.grad[off + i];
            double scale = eta * Math.sqrt(n) / Math.max(Math.sqrt(ss), 1e-12);
            float s = (float) scale;
            for (int i = 0; i < n; i++) p.grad[off + i] *= s;
        }
    }

    /** Scales the adder gradients (global semantics) and takes one step with learning rate {@code lr}. */
    public void step(Params p, double lr) {
        scaleAdderGradients(p, eta);
        applyUpdate(p, lr);
    }

    /** The update alone, for callers that scaled the adder gradients themselves ({@code per_worker} mode). */
    public void applyUpdate(Params p, double lr) {
        float[] w = p.data, g = p.grad, buf = momentumBuffer;
        int n = w.length;
        float wd = (float) weightDecay, mom = (float) momentum, rate = (float) lr;
        boolean first = steps == 0;
        for (int i = 0; i < n; i++) {
            float d = g[i] + wd * w[i];
            if (mom != 0f) {
                buf[i] = first ? d : mom * buf[i] + d;
                d = nesterov ? d + mom * buf[i] : buf[i];
            }
            w[i] -= rate * d;
        }
        steps++;
    }
}
