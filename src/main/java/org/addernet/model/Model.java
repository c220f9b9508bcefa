package org.addernet.model;

import org.addernet.engine.Params;
import org.addernet.engine.Tensor;
import org.addernet.engine.TensorPool;
import org.addernet.layers.Costs;
import org.addernet.layers.Layer;
import org.addernet.layers.SoftmaxCrossEntropy;

/**
 * A network ready to train: its layers, its flat parameters/gradients/buffers, and the loss. Knows nothing of
 * optimizers, data or Spark. {@link #trainShard} is the unit of work a worker runs on its share of a global
 * batch; gradients <em>accumulate</em> into {@code params().grad} so several shards can be summed in place.
 *
 * <p>An eval-only model ({@link Models#createEval}) computes the same eval-mode forward bit for bit with less memory:
 * its parameters have no gradient buffer, its layers keep nothing for a backward pass, and its activations come from
 * one pool and go back to it layer by layer, so a forward holds a few activations (a residual block's input, its
 * branch and its shortcut at most) instead of one per layer. Training it fails with a message.
 */
public final class Model {
    private final String arch;
    private final boolean adder;
    private final int classes;
    private final int[] inputShape;
    private final Params params;
    private final Layer net;
    private final SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy();
    /** The activation gradients of a backward pass, shared by all layers. */
    private final TensorPool gradients = new TensorPool();
    /** PyTorch's {@code num_batches_tracked}, one count for all BN layers: they always step together. */
    private long numBatchesTracked;
    private Tensor lastLogits;
    /** Eval-only: the activations of a forward pass (the gradient pool stays empty); null for a training model. */
    private final TensorPool activations;

    Model(String arch, boolean adder, int classes, int[] inputShape, Params params, Layer net) {
        this.arch = arch;
        this.adder = adder;
        this.classes = classes;
        this.inputShape = inputShape.clone();
        this.params = params;
        this.net = net;
        net.setNeedsInputGrad(false);
        net.setPool(gradients);
        this.activations = params.hasGrad() ? null : new TensorPool();
        if (activations != null) net.setActivationPool(activations);
    }

    /** True for a model built for inference only ({@link Models#createEval}): no gradients, no backward state. */
    public boolean evalOnly() { return activations != null; }

    /** Architecture name, e.g. {@code resnet20}. */
    public String arch() { return arch; }
    public boolean adder() { return adder; }
    /** {@code resnet20_adder} / {@code resnet20_cnn}: the name used in checkpoints and golden cases. */
    public String name() { return arch + (adder ? "_adder" : "_cnn"); }
    public int classes() { return classes; }
    /** Expected input (C, H, W). */
    public int[] inputShape() { return inputShape.clone(); }
    public Params params() { return params; }
    public long numBatchesTracked() { return numBatchesTracked; }
    public void setNumBatchesTracked(long v) { numBatchesTracked = v; }

    /** Logits (N, classes, 1, 1) of a batch. */
    public Tensor forward(Tensor x, boolean training) {
        if (x.c != inputShape[0] || x.h != inputShape[1] || x.w != inputShape[2]) {
            throw new IllegalArgumentException(name() + " expects input " + inputShape[0] + "x" + inputShape[1] + "x"
                    + inputShape[2] + " per sample, got " + x);
        }
        if (training && activations != null) {
            throw new IllegalStateException(name() + " was built for inference only (no gradient buffers): it cannot run a training forward");
        }
        if (activations != null) activations.reclaimAll();
        Tensor logits = net.forward(x, training);
        if (activations != null) { // the pooled output goes back; the caller gets the model's own copy
            Tensor own = lastLogits != null && lastLogits.sameShape(logits) ? lastLogits : new Tensor(logits.n, logits.c, logits.h, logits.w);
            System.arraycopy(logits.data, 0, own.data, 0, logits.size());
            activations.give(logits);
            logits = own;
        }
        lastLogits = logits;
        if (logits.perSample() != classes) throw new IllegalStateException("network produced " + logits + " for " + classes + " classes");
        return logits;
    }

    /**
     * Forward in training mode, loss, backward on one shard of a global batch. Adds this shard's gradient of
     * {@code lossScale * sum of per-sample losses} into {@code params().grad} (so {@code lossScale = 1/B_global}
     * yields the gradient of the global mean loss) and updates the BN running statistics in place.
     */
    public SoftmaxCrossEntropy.Result trainShard(Tensor x, int[] labels, float lossScale) {
        params.requireGrad();
        Tensor logits = forward(x, true);
        SoftmaxCrossEntropy.Result r = loss.forwardBackward(logits, labels, lossScale);
        net.backward(loss.gradient());
        return r;
    }

    /** Per-layer shapes, costs and memory kept for backward, for one sample, from the layer definitions. */
    public Costs describe() {
        Costs c = new Costs();
        net.describe(new Costs.Act(inputShape[0], inputShape[1], inputShape[2]), c);
        return c;
    }

    /** Bytes of the activation-gradient buffers allocated so far (they are reused from step to step). */
    public long gradientBufferBytes() {
        return gradients.bytes();
    }

    /** Eval-only: bytes of the activation buffers its pool holds (reused from batch to batch); 0 for a training model. */
    public long activationBufferBytes() {
        return activations == null ? 0 : activations.bytes();
    }

    /** The layers, for tests that probe them directly. */
    Layer net() {
        return net;
    }

    /** Logits of the most recent forward pass (owned by the last layer, valid until the next call). */
    public Tensor lastLogits() {
        return lastLogits;
    }
}
