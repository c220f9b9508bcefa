package org.addernet.layers;

import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Tensor;
import org.addernet.kernels.OutputMap;

/**
 * PyTorch {@code BatchNorm2d} (eps 1e-5, momentum 0.1): training normalizes each channel with the batch mean
 * and the biased batch variance over (N, H, W) and moves {@code running_var} towards the unbiased one; eval
 * uses the running statistics. The running statistics are updated in place in {@code Params.buffers};
 * {@code num_batches_tracked} is the model's step counter (all BN layers of a model step together).
 * The backward overwrites {@code dy} with the input gradient (each value is read before it is written).
 * Per-channel sums are taken in double across runs of float sums, so that large batches keep float32 results within
 * the golden tolerances, in the 8 fixed lanes of {@link Passes} (independent of thread count and vector width); the
 * training statistics take one pass (moments about a shift, see {@link #forward}); the elementwise passes run in
 * float around a mean split into two floats (vectorized by C2).
 * Channels are independent, so they are split over the engine's threads. {@link #setRelu} fuses the ReLU that
 * follows it in the ResNets and LeNet-5-BN.
 */
public final class BatchNorm2d implements Layer {
    public static final double DEFAULT_EPS = 1e-5;
    public static final double DEFAULT_MOMENTUM = 0.1;

    private final Engine engine;
    private final String name;
    private final Params.Builder builder;
    private Params params;
    private final int channels;
    private final int gOff, bOff, meanOff, varOff;
    private final double eps, momentum;
    private Tensor x, y;
    private final double[] batchMean, batchInvStd;
    private boolean lastTraining;
    /** Eval mode overwrites the input with the output (see {@link #setInPlaceEval}). */
    private boolean inPlaceEval;
    /** A ReLU fused behind the normalization (see {@link #setRelu}). */
    private boolean relu;
    private final Passes passes;
    /**
     * A residual block's shortcut, set by {@link Residual} for the next forward only ({@link #setShortcut}), and
     * whether the last training forward added one (its backward then masks with this layer's output and writes the
     * masked gradient to {@link #shortcutGrad}, set by {@link Residual} before it).
     */
    private float[] shortcut, shortcutGrad;
    private boolean addedShortcut;
    /** The eval map's per-channel coefficients ({@link #evalMap}), allocated on first use. */
    private float[] evalMeanHi, evalMeanLo, evalScale, evalBeta;

    public BatchNorm2d(Engine engine, Params.Builder pb, String name, int channels) {
        this.engine = engine;
        this.name = name;
        this.builder = pb;
        this.channels = channels;
        this.gOff = pb.add(name + ".weight", Params.Kind.BN_WEIGHT, channels);
        this.bOff = pb.add(name + ".bias", Params.Kind.BN_BIAS, channels);
        this.meanOff = pb.add(name + ".running_mean", Params.Kind.BUFFER, channels);
        this.varOff = pb.add(name + ".running_var", Params.Kind.BUFFER, channels);
        this.eps = DEFAULT_EPS;
        this.momentum = DEFAULT_MOMENTUM;
        batchMean = new double[channels];
        batchInvStd = new double[channels];
        passes = Passes.get();
    }

    private Params params() {
        if (params == null) params = builder.build();
        return params;
    }

    /** weight = 1, bias = 0, running mean 0, running var 1 (PyTorch's reset). */
    public void init() {
        Params p = params();
        for (int c = 0; c < channels; c++) {
            p.data[gOff + c] = 1f;
            p.data[bOff + c] = 0f;
            p.buffers[meanOff + c] = 0f;
            p.buffers[varOff + c] = 1f;
        }
    }

    /**
     * Eval-mode BN as the per-channel affine {@code y = (x - running_mean) * gamma/sqrt(running_var + eps) + beta}
     * applied in place on its input, the output of the adder (or conv) layer before it, which nothing reads after it
     * in eval mode: no output buffer of its own, one pass over the activations, the same float results as the
     * out-of-place form bit for bit (same double arithmetic). For layers inside a model; a BN used alone keeps its input.
     */
    public void setInPlaceEval(boolean inPlace) {
        this.inPlaceEval = inPlace;
    }

    /**
     * Makes this layer BatchNorm followed by PyTorch's in-place ReLU, in one pass: the forward clamps as it
     * normalizes, the backward applies the ReLU's mask ({@code y > 0}, its output kept in this layer's output) inside
     * its first pass over {@code dy}. The same bits as {@code BatchNorm2d} then {@code ReLU(true)}, one read and write
     * of the activations less each way.
     */
    public void setRelu(boolean relu) {
        this.relu = relu;
    }

    /**
     * The eval-mode normalization (and the fused ReLU) as an {@link OutputMap} for the layer before it to apply as it
     * writes its outputs ({@link Sequential} in an eval-only model): the per-channel floats {@link #forward} computes
     * in eval mode (the split mean, the scale), by the same expressions, so the outputs keep their bits. {@code residual}: a shortcut to add (and
     * clamp) after it, see {@link Residual}; null for none. The arrays are this layer's, rewritten on every call.
     */
    OutputMap evalMap(float[] residual) {
        Params p = params();
        if (evalMeanHi == null) {
            evalMeanHi = new float[channels];
            evalMeanLo = new float[channels];
            evalScale = new float[channels];
            evalBeta = new float[channels];
        }
        for (int c = 0; c < channels; c++) {
            double mean = p.buffers[meanOff + c], invStd = 1.0 / Math.sqrt(p.buffers[varOff + c] + eps);
            float meanHi = (float) mean;
            evalMeanHi[c] = meanHi;
            evalMeanLo[c] = (float) (mean - meanHi);
            evalScale[c] = (float) (p.data[gOff + c] * invStd);
            evalBeta[c] = p.data[bOff + c];
        }
        lastTraining = false;
        return new OutputMap(evalMeanHi, evalMeanLo, evalScale, evalBeta, relu, residual);
    }

    int channels() {
        return channels;
    }

    boolean hasRelu() {
        return relu;
    }

    /**
     * The next forward (only) computes {@code relu(bn(x) + s)}, a residual block's sum and ReLU fused into the
     * normalization ({@link Passes#normalizeAddRelu}: the same float operations, so the same bits, as this layer then
     * {@link Residual}'s own pass, without writing and re-reading the normalized values). Its backward then applies
     * the ReLU's mask in its first pass and writes the masked gradient, the shortcut's, to the array given by
     * {@link #setShortcutGradient} instead of over {@code dy}. Not with {@link #setRelu}.
     */
    void setShortcut(float[] s) {
        if (relu) throw new IllegalStateException("BatchNorm " + name + " has a ReLU of its own: no shortcut to add");
        this.shortcut = s;
    }

    /** Where the next backward after a forward with a shortcut writes the masked gradient (see {@link #setShortcut}). */
    void setShortcutGradient(float[] g) {
        this.shortcutGrad = g;
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        final float[] sd = shortcut; // for this forward only, also when it throws
        shortcut = null;
        if (x.c != channels) throw new IllegalArgumentException("BatchNorm expects " + channels + " channels, got " + x);
        this.x = training ? x : null; // only a backward reads it (and none follows an eval forward)
        this.lastTraining = training;
        boolean inPlace = !training && inPlaceEval;
        if (!inPlace) y = Tensor.reuse(y, x.n, x.c, x.h, x.w);
        Params p = params();
        p.awaitData(Math.max(gOff, bOff) + channels); // the weights may still be arriving (Params.setArrival)
        final int n = x.n, hw = x.h * x.w;
        final long m = (long) n * hw;
        if (training && m < 2) {
            throw new IllegalArgumentException("BatchNorm in training mode needs more than 1 value per channel, got input " + x);
        }
        final float[] xd = x.data, yd = inPlace ? x.data : y.data;
        if (sd != null && sd.length < x.size()) throw new IllegalStateException("BatchNorm " + name + ": shortcut smaller than " + x);
        this.addedShortcut = training && sd != null;
        final boolean clamp = relu;
        long t0 = PassTimes.start();
        final Passes ops = passes;
        Passes.split(engine.pool(), channels, x.size(), (from, to) -> {
            double[] lanes1 = new double[Passes.LANES], lanes2 = new double[Passes.LANES];
            for (int c = from; c < to; c++) {
                double mean, invStd;
                if (training) {
                    // One pass: the moments about a shift near the mean (the first plane's mean), d = x - shift in
                    // float, exact where adder outputs sit (large negative values of small spread, Sterbenz), so
                    // E[d^2] - E[d]^2 cancels no digits that matter (|mean - shift| is of the order of the spread),
                    // where E[x^2] - mean^2 about 0 would. Both sums in the runs and lanes of Passes.moments.
                    java.util.Arrays.fill(lanes1, 0);
                    java.util.Arrays.fill(lanes2, 0);
                    ops.moments(xd, c * hw, hw, 0f, lanes1, lanes2);
                    float shift = (float) (Passes.total(lanes1) / hw);
                    java.util.Arrays.fill(lanes1, 0);
                    java.util.Arrays.fill(lanes2, 0);
                    for (int i = 0; i < n; i++) ops.moments(xd, (i * channels + c) * hw, hw, shift, lanes1, lanes2);
                    double d1 = Passes.total(lanes1) / m;
                    mean = shift + d1;
                    double var = Math.max(0.0, Passes.total(lanes2) / m - d1 * d1);
                    invStd = 1.0 / Math.sqrt(var + eps);
                    p.buffers[meanOff + c] = (float) ((1 - momentum) * p.buffers[meanOff + c] + momentum * mean);
                    p.buffers[varOff + c] = (float) ((1 - momentum) * p.buffers[varOff + c] + momentum * var * m / (m - 1));
                } else {
                    mean = p.buffers[meanOff + c];
                    invStd = 1.0 / Math.sqrt(p.buffers[varOff + c] + eps);
                }
                batchMean[c] = mean;
                batchInvStd[c] = invStd;
                // (x - mean) with the mean as two floats (Passes.normalize): adder outputs are large negative sums
                // whose spread is small next to their mean, so the usual float x*scale + shift would cancel away
                // several digits; float arithmetic otherwise, which C2 vectorizes (it leaves double conversions scalar).
                float meanHi = (float) mean, meanLo = (float) (mean - meanHi);
                float scale = (float) (p.data[gOff + c] * invStd), beta = p.data[bOff + c];
                if (sd != null) {
                    for (int i = 0; i < n; i++) ops.normalizeAddRelu(xd, sd, yd, (i * channels + c) * hw, hw, meanHi, meanLo, scale, beta);
                } else {
                    for (int i = 0; i < n; i++) ops.normalize(xd, yd, (i * channels + c) * hw, hw, meanHi, meanLo, scale, beta, clamp);
                }
            }
        });
        PassTimes.done(PassTimes.Kind.BATCH_NORM, t0);
        return inPlace ? x : y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        if (!lastTraining) throw new IllegalStateException("BatchNorm backward after an eval-mode forward");
        Params p = params();
        p.awaitData(Math.max(gOff, bOff) + channels); // the weights may still be arriving (Params.setArrival)
        final int n = x.n, hw = x.h * x.w;
        final long m = (long) n * hw;
        // The ReLU's mask (its own, or a residual block's sum's: see setShortcut) is this layer's output; the masked
        // gradient goes over dy, or to the shortcut's gradient; dx overwrites dy either way.
        final float[] xd = x.data, dyd = dy.data, mask = relu || addedShortcut ? y.data : null;
        final float[] g = addedShortcut ? shortcutGrad : dyd;
        if (g == null || g.length < x.size()) throw new IllegalStateException("BatchNorm " + name + (addedShortcut ? ": no shortcut gradient of " : ": gradient smaller than ") + x);
        shortcutGrad = null;
        final Passes ops = passes;
        long t0 = PassTimes.start();
        Passes.split(engine.pool(), channels, x.size(), (from, to) -> {
            double[] lanesG = new double[Passes.LANES], lanesGD = new double[Passes.LANES];
            for (int c = from; c < to; c++) {
                double mean = batchMean[c], invStd = batchInvStd[c];
                java.util.Arrays.fill(lanesG, 0);
                java.util.Arrays.fill(lanesGD, 0);
                for (int i = 0; i < n; i++) ops.gradientSums(xd, dyd, mask, g, (i * channels + c) * hw, hw, mean, lanesG, lanesGD);
                double sumDy = Passes.total(lanesG), sumDyXhat = Passes.total(lanesGD) * invStd;
                p.grad[gOff + c] += (float) sumDyXhat;
                p.grad[bOff + c] += (float) sumDy;
                // dx = gamma*invStd * (dy - mean(dy) - xhat*mean(dy*xhat)): the sums and coefficients in double,
                // the elementwise pass in float with the split mean (as the forward), which C2 vectorizes.
                float meanHi = (float) mean, meanLo = (float) (mean - meanHi);
                float gInv = (float) (p.data[gOff + c] * invStd), k1 = (float) (sumDy / m), k2 = (float) (sumDyXhat / m * invStd);
                for (int i = 0; i < n; i++) ops.inputGradient(xd, g, dyd, (i * channels + c) * hw, hw, meanHi, meanLo, gInv, k1, k2);
            }
        });
        PassTimes.done(PassTimes.Kind.BATCH_NORM, t0);
        // This layer adds nothing more to its gradients in this backward (the sharded step may send them now).
        p.gradientReady(gOff, gOff + channels);
        p.gradientReady(bOff, bOff + channels);
        return dy;
    }

    /** Keeps its input (the normalized values are recomputed from it and the batch statistics). */
    @Override
    public Costs.Act describe(Costs.Act x, Costs costs) {
        if (x.c != channels) throw new IllegalArgumentException("BatchNorm " + name + " expects " + channels + " channels, got " + x);
        costs.keep(x);
        Costs.Act out = new Costs.Act(x.c, x.h, x.w);
        costs.add(name, "bn", out, 2L * channels, 0, out.size(), out.size(), false);
        if (relu) { // the fused ReLU: its output is the mask its backward needs, as for a ReLU layer
            costs.keep(out);
            costs.add("relu", "relu", out, 0, 0, 0, 0, false);
        }
        return out;
    }
}
