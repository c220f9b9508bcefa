package org.addernet.layers;

import org.addernet.engine.Tensor;
import org.addernet.engine.TensorPool;

/**
 * One step of a network. {@code forward} remembers what {@code backward} needs (its input, its output);
 * {@code backward} takes the gradient of the loss with respect to the output, <em>adds</em> the parameter
 * gradients into the model's flat gradient buffer and returns the gradient with respect to the input
 * (or {@code null} for a first layer, whose input needs none). Forward outputs are owned by the layer and valid
 * until its next forward. A layer with parameters ends its backward with {@link org.addernet.engine.Params#gradientReady}
 * for each of them (they get nothing more in that backward).
 *
 * <p>Gradients are consumed: {@code backward} may overwrite {@code dy} (and return it as the input gradient, as
 * ReLU and BatchNorm do) or give it back to the {@link TensorPool}; the returned gradient is the caller's until
 * it passes it on. A model shares one pool between its layers ({@link #setPool}); a layer used alone allocates
 * its input gradients.
 */
public interface Layer {
    Tensor forward(Tensor x, boolean training);

    Tensor backward(Tensor dy);

    /** Tells the layer whether its caller needs the input gradient (false for the network's first layer). */
    default void setNeedsInputGrad(boolean needed) {}

    /** The gradient buffers to take from and give back to; containers pass it on to their layers. */
    default void setPool(TensorPool pool) {}

    /**
     * Makes this layer part of an eval-only model: {@code forward} then runs in eval mode only (training fails), takes
     * its output from {@code pool} instead of keeping a buffer of its own, and keeps nothing for a backward pass (no
     * input, no argmax); a container gives each inner output back to {@code pool} once the next layer has consumed it.
     * The caller owns the returned tensor and gives it back. Layers that work in place (or have no output buffer)
     * ignore it; containers pass it on.
     */
    default void setActivationPool(TensorPool pool) {}

    /** Appends this layer's rows for one sample of shape {@code x} to {@code costs}; returns its output. */
    Costs.Act describe(Costs.Act x, Costs costs);
}
