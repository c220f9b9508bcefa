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
    /**
     * The per-element update with its hyperparameters: the one loop every mode runs (the driver over the whole
     * vector, a sharded owner over its slice), so the paths cannot drift apart.
     */
    public record Rule(double momentum, double weightDecay, boolean nesterov) implements java.io.Serializable {
        /**
         * SGD on elements {@code [from, to)} of {@code w}, {@code g} and {@code buf} (the same layout): {@code first}
         * is the optimizer's first step ({@code buf = g}).
         */
        public void update(float[] w, float[] g, float[] buf, int from, int to, double lr, boolean first) {
            float wd = (float) weightDecay, mom = (float) momentum, rate = (float) lr;
            for (int i = from; i < to; i++) {
                float d = g[i] + wd * w[i];
                if (mom != 0f) {
                    buf[i] = first ? d : mom * buf[i] + d;
                    d = nesterov ? d + mom * buf[i] : buf[i];
                }
                w[i] -= rate * d;
            }
        }
    }

    private final Rule rule;
    private final double eta;
    private final float[] momentumBuffer;
    private long steps;
    /** How the norms are summed: the sharded step's slices for this run's W (one slice by default). */
    private Slicing normSlices;

    public Sgd(int size, double momentum, double weightDecay, boolean nesterov, double eta) {
        if (momentum < 0 || weightDecay < 0 || eta <= 0) {
            throw new IllegalArgumentException("need momentum >= 0, weight_decay >= 0, eta > 0");
        }
        if (nesterov && momentum == 0) throw new IllegalArgumentException("nesterov needs momentum > 0");
        this.rule = new Rule(momentum, weightDecay, nesterov);
        this.eta = eta;
        this.momentumBuffer = new float[size];
        this.normSlices = Slicing.of(size, 1);
    }

    public double eta() { return eta; }
    public Rule rule() { return rule; }
    /** Optimizer steps taken so far (0 means the momentum buffer is not yet initialized). */
    public long steps() { return steps; }
    public float[] momentumBuffer() { return momentumBuffer; }

    /**
     * Sums each adder layer's squared gradient over the slices of {@code workers} slices, in slice order, the way a
     * {@code sync=sharded} run with that many workers does: every mode of a W-worker run then gets the same norms.
     */
    public void sliceNorms(int workers) {
        this.normSlices = Slicing.of(momentumBuffer.length, workers);
    }

    public Slicing normSlices() { return normSlices; }

    /** Restores state from a checkpoint. */
    public void restore(float[] buffer, long steps) {
        if (buffer.length != momentumBuffer.length) {
            throw new IllegalArgumentException("momentum buffer has " + buffer.length + " floats, model has " + momentumBuffer.length);
        }
        System.arraycopy(buffer, 0, momentumBuffer, 0, buffer.length);
        this.steps = steps;
    }

    /** One more optimizer step was applied elsewhere (by the owners of a sharded run). */
    public void countStep() {
        steps++;
    }

    /** The adder filters of {@code p}, in parameter order: the layers the adaptive scaling applies to. */
    public static java.util.List<Params.View> adderViews(Params p) {
        java.util.List<Params.View> r = new java.util.ArrayList<>();
        for (Params.View v : p.params()) if (v.kind() == Params.Kind.ADDER) r.add(v);
        return r;
    }

    /**
     * Partial sums of squares, in double and in index order, of each adder layer (offsets {@code off[l]}, sizes
     * {@code len[l]} in the flat vector) over its intersection with {@code [from, to)}; {@code g} holds that range,
     * element {@code i} of the vector at {@code g[i - base]}. A layer that misses the range gets 0.
     */
    public static double[] partialSumsOfSquares(int[] off, int[] len, float[] g, int base, int from, int to) {
        double[] r = new double[off.length];
        for (int l = 0; l < off.length; l++) {
            int a = Math.max(off[l], from), b = Math.min(off[l] + len[l], to);
            double ss = 0;
            for (int i = a; i < b; i++) ss += (double) g[i - base] * g[i - base];
            r[l] = ss;
        }
        return r;
    }

    /** {@code eta * sqrt(numel) / max(||g||, 1e-12)} as the float every mode multiplies by: computed in one place. */
    public static float adderScale(double eta, int numel, double sumOfSquares) {
        return (float) (eta * Math.sqrt(numel) / Math.max(Math.sqrt(sumOfSquares), 1e-12));
    }

    /**
     * {@code grad <- grad * eta * sqrt(numel) / max(||grad||_2, 1e-12)} for every adder filter, in place, the norm
     * taken in one piece (one slice).
     */
    public static void scaleAdderGradients(Params p, double eta) {
        scaleAdderGradients(p, eta, Slicing.of(p.size(), 1));
    }

    /**
     * As above, each layer's squared norm summed (in double: it is over up to millions of elements) as the sum in
     * slice order of its partial sums over the slices of {@code slices}.
     */
    public static void scaleAdderGradients(Params p, double eta, Slicing slices) {
        java.util.List<Params.View> adders = adderViews(p);
        int[] off = new int[adders.size()], len = new int[adders.size()];
        for (int l = 0; l < off.length; l++) {
            off[l] = adders.get(l).offset();
            len[l] = adders.get(l).size();
        }
        double[] ss = new double[off.length];
        for (int q = 0; q < slices.slices(); q++) {
            double[] part = partialSumsOfSquares(off, len, p.grad, 0, slices.from(q), slices.to(q));
            for (int l = 0; l < ss.length; l++) ss[l] += part[l];
        }
        for (int l = 0; l < off.length; l++) {
            float s = adderScale(eta, len[l], ss[l]);
            for (int i = off[l]; i < off[l] + len[l]; i++) p.grad[i] *= s;
        }
    }

    /** Scales the adder gradients (global semantics) and takes one step with learning rate {@code lr}. */
    public void step(Params p, double lr) {
        scaleAdderGradients(p, eta, normSlices);
        applyUpdate(p, lr);
    }

    /** The update alone, for callers that scaled the adder gradients themselves ({@code per_worker} mode). */
    public void applyUpdate(Params p, double lr) {
        rule.update(p.data, p.grad, momentumBuffer, 0, p.data.length, lr, steps == 0);
        steps++;
    }
}
