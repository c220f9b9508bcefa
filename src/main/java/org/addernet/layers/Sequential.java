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

    @Override
    public Tensor forward(Tensor x, boolean training) {
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
