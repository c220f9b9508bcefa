package org.addernet.engine;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Pooled buffers of one model: the activation gradients of a training model's backward pass, or the activations
 * of an eval-only model's forward pass ({@link org.addernet.layers.Layer#setActivationPool}: each layer takes its
 * output here and its consumer gives the input back once it has read it, so a forward holds a few activations, not
 * one per layer). For the gradients, a gradient lives only from the layer that makes
 * it to the layer that consumes it, so instead of every layer owning an input-gradient tensor for the whole batch
 * (as many as there are layers), layers take one here and give back the one they consumed: a backward pass then
 * holds a handful of buffers, the size of the largest activations. Buffers stay in the pool across steps (no
 * per-step garbage); a request takes the smallest free buffer that fits, or allocates one. Not thread-safe: one
 * model, one backward at a time.
 */
public final class TensorPool {
    private final List<float[]> free = new ArrayList<>();
    private final Set<float[]> lent = Collections.newSetFromMap(new IdentityHashMap<>());
    private long bytes;

    /** A tensor of this shape on a pooled buffer (contents undefined, the buffer may be longer than the tensor). */
    public Tensor take(int n, int c, int h, int w) {
        int size = Math.multiplyExact(Math.multiplyExact(n, c), Math.multiplyExact(h, w));
        int best = -1;
        for (int i = 0; i < free.size(); i++) {
            int len = free.get(i).length;
            if (len >= size && (best < 0 || len < free.get(best).length)) best = i;
        }
        float[] a;
        if (best >= 0) {
            a = free.remove(best);
        } else {
            // Nothing fits: let the largest free buffer go (it is too small) rather than keep buffers of every
            // stage's size; the pool then settles on as many buffers as are ever lent at once.
            int largest = -1;
            for (int i = 0; i < free.size(); i++) if (largest < 0 || free.get(i).length > free.get(largest).length) largest = i;
            if (largest >= 0) bytes -= 4L * free.remove(largest).length;
            a = new float[size];
            bytes += 4L * size;
        }
        lent.add(a);
        return new Tensor(n, c, h, w, a);
    }

    /**
     * Gives back the buffer of a consumed gradient. Tensors this pool did not lend (a layer's own, the loss
     * gradient, a test's input) are ignored, so a consumer need not know where its gradient came from.
     */
    public void give(Tensor t) {
        if (t != null && lent.remove(t.data)) free.add(t.data);
    }

    /**
     * Takes every lent buffer back: for an eval-only model's activations before a forward pass, when nothing can
     * still be in use (so that a forward that failed half-way does not leave buffers lent for ever).
     */
    public void reclaimAll() {
        free.addAll(lent);
        lent.clear();
    }

    /** Bytes of the buffers this pool holds (free or lent). */
    public long bytes() {
        return bytes;
    }
}
