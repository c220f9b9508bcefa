package org.addernet.layers;

import org.addernet.engine.Tensor;

/**
 * One step of a network. {@code forward} remembers what {@code backward} needs (its input, its output);
 * {@code backward} takes the gradient of the loss with respect to the output, <em>adds</em> the parameter
 * gradients into the model's flat gradient buffer and returns the gradient with respect to the input
 * (or {@code null} for a first layer, whose input needs none). Returned tensors are owned by the layer and
 * valid until its next call.
 */
public interface Layer {
    Tensor forward(Tensor x, boolean training);

    Tensor backward(Tensor dy);

    /** Tells the layer whether its caller needs the input gradient (false for the network's first layer). */
    default void setNeedsInputGrad(boolean needed) {}
}
