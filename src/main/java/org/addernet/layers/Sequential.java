package org.addernet.layers;

import java.util.List;
import org.addernet.engine.Tensor;
import org.addernet.engine.TensorPool;

/**
 * Layers applied one after another; backward runs them in reverse. In an eval-only model each intermediate output
 * goes back to the activation pool as soon as the next layer has produced its own (unless that layer worked in place
 * and returned it): a forward then holds the current layer's input and output, not every layer's.
 */
public final class Sequential implements Layer {
    private final List<Layer> layers;
    private TensorPool activations;

    public Sequential(List<Layer> layers) {
        this.layers = List.copyOf(layers);
    }

    public List<Layer> layers() {
        return layers;
    }

    @Override
    public void setNeedsInputGrad(boolean needed) {
        if (!layers.isEmpty()) layers.get(0).setNeedsInputGrad(needed);
    }

    @Override
    public void setPool(TensorPool pool) {
        for (Layer l : layers) l.setPool(pool);
    }

    @Override
    public void setActivationPool(TensorPool pool) {
        this.activations = pool;
        for (Layer l : layers) l.setActivationPool(pool);
    }

    /**
     * Whether layer {@code i} is a bias-free conv/adder layer whose output only the BatchNorm at {@code i + 1} reads: in an
     * eval-only model the pair runs as one fused forward ({@link Conv2d#forwardEval}), the BatchNorm (its ReLU, and a
     * residual sum after the last pair, see {@link Residual}) applied by the engine's threads as they write the outputs.
     */
    private boolean fused(int i) {
        return i + 1 < layers.size() && layers.get(i) instanceof Conv2d c && c.fusable()
                && layers.get(i + 1) instanceof BatchNorm2d b && b.channels() == c.outChannels();
    }

    /** True when an eval-only forward can take a residual into its last fused pair ({@link #forwardEval}). */
    boolean fusesResidual() {
        return activations != null && layers.size() >= 2 && fused(layers.size() - 2);
    }

    /**
     * The eval-only forward with the conv + BatchNorm pairs fused, and {@code residual} (if not null: needs
     * {@link #fusesResidual}) added to the last pair's output with the ReLU, {@code relu(bn(conv(x)) + residual)}.
     * Same bits as {@link #forward} followed by {@link Residual}'s sum.
     */
    Tensor forwardEval(Tensor x, float[] residual) {
        if (activations == null) throw new IllegalStateException("not an eval-only model");
        if (residual != null && !fusesResidual()) throw new IllegalStateException("no fused pair at the end to take the residual");
        Tensor in = x;
        for (int i = 0; i < layers.size(); i++) {
            Tensor y;
            if (fused(i)) {
                BatchNorm2d bn = (BatchNorm2d) layers.get(i + 1);
                y = ((Conv2d) layers.get(i)).forwardEval(x, bn.evalMap(i + 2 == layers.size() ? residual : null));
                i++;
            } else {
                y = layers.get(i).forward(x, false);
            }
            if (x.data != in.data && y.data != x.data) activations.give(x);
            x = y;
        }
        return x;
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        if (activations != null && !training) return forwardEval(x, null);
        Tensor in = x;
        for (Layer l : layers) {
            Tensor y = l.forward(x, training);
            // The caller's input is the caller's to give back (a residual block still needs it for its shortcut).
            if (activations != null && x.data != in.data && y.data != x.data) activations.give(x);
            x = y;
        }
        return x;
    }

    @Override
    public Tensor backward(Tensor dy) {
        for (int i = layers.size() - 1; i >= 0; i--) {
            dy = layers.get(i).backward(dy);
            if (dy == null) return null;
        }
        return dy;
    }

    @Override
    public Costs.Act describe(Costs.Act x, Costs costs) {
        for (Layer l : layers) x = l.describe(x, costs);
        return x;
    }
}
