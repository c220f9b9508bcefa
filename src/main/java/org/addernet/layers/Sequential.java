package org.addernet.layers;

import java.util.List;
import org.addernet.engine.Tensor;
import org.addernet.engine.TensorPool;

/** Layers applied one after another; backward runs them in reverse. */
public final class Sequential implements Layer {
    private final List<Layer> layers;

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
    public Tensor forward(Tensor x, boolean training) {
        for (Layer l : layers) x = l.forward(x, training);
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
