package org.addernet.train;

import java.util.List;
import org.addernet.engine.Params;
import org.addernet.model.Model;

/**
 * Non-finite values (NaN, ±Inf) stop a run before they are kept: the driver checks the summed gradient, the BN
 * statistics, the loss, and the weights and momentum an update would produce, and on the first non-finite value
 * throws {@link NonFinite} with one line "non-finite &lt;what&gt; at epoch E step S, first in layer L (the last
 * checkpoint, F, is kept)". The update is undone first, so no checkpoint is ever written from a poisoned state.
 * The static helpers are for other code paths (the sharded update, {@code evaluate} on a checkpoint).
 *
 * <p>Per-layer gradient norms need no check of their own here: they are taken in double over float values, so a
 * norm is non-finite only if one of its elements is. A path that sums norms from parts checks them with
 * {@link #checkPerLayer}.
 */
public final class FiniteCheck {
    /** A run stopped by a non-finite value. */
    public static final class NonFinite extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        public NonFinite(String message) {
            super(message);
        }
    }

    /** Scratch copies of the state before an update, reused from step to step. */
    private float[] weights, momentum, buffers;

    /** The first view of {@code views} whose slice of {@code a} holds a non-finite value, or null. */
    public static String firstNonFinite(float[] a, List<Params.View> views) {
        for (Params.View v : views) {
            for (int i = v.offset(), end = v.offset() + v.size(); i < end; i++) {
                if (!Float.isFinite(a[i])) return v.name();
            }
        }
        return null;
    }

    /** As above for double values (the workers' weighted BN statistics, norms). */
    public static String firstNonFinite(double[] a, List<Params.View> views) {
        for (Params.View v : views) {
            for (int i = v.offset(), end = v.offset() + v.size(); i < end; i++) {
                if (!Double.isFinite(a[i])) return v.name();
            }
        }
        return null;
    }

    /** The first parameter or buffer of a model holding a non-finite value, or null. */
    public static String firstNonFinite(Params p) {
        String s = firstNonFinite(p.data, p.params());
        return s != null ? s : firstNonFinite(p.buffers, p.bufferViews());
    }

    /** The message every non-finite stop uses. */
    public static String message(String what, String at, String layer, String kept) {
        return "non-finite " + what + " at " + at + (layer != null ? ", first in layer " + layer : "") + (kept.isEmpty() ? "" : " " + kept);
    }

    public static void check(String what, float[] a, List<Params.View> views, String at, String kept) {
        String l = firstNonFinite(a, views);
        if (l != null) throw new NonFinite(message(what, at, l, kept));
    }

    public static void check(String what, double[] a, List<Params.View> views, String at, String kept) {
        String l = firstNonFinite(a, views);
        if (l != null) throw new NonFinite(message(what, at, l, kept));
    }

    /** Per-layer values (one per layer, e.g. norms), {@code layers.get(i)} naming value i. */
    public static void checkPerLayer(String what, double[] perLayer, List<String> layers, String at, String kept) {
        for (int i = 0; i < perLayer.length; i++) {
            if (!Double.isFinite(perLayer[i])) throw new NonFinite(message(what, at, layers.get(i), kept));
        }
    }

    /**
     * Runs {@code update} (the optimizer step on {@code model}'s parameters and {@code sgd}'s momentum) and checks
     * what it produced; if a weight, momentum or buffer came out non-finite, restores the state before the update
     * and throws.
     */
    public void guardedUpdate(Model model, Sgd sgd, Runnable update, String at, String kept) {
        Params p = model.params();
        weights = copy(p.data, weights);
        momentum = copy(sgd.momentumBuffer(), momentum);
        buffers = copy(p.buffers, buffers);
        long steps = sgd.steps(), tracked = model.numBatchesTracked();
        update.run();
        String what = null, layer = firstNonFinite(p.data, p.params());
        if (layer != null) what = "weights after the update";
        if (layer == null && (layer = firstNonFinite(sgd.momentumBuffer(), p.params())) != null) what = "momentum after the update";
        if (layer == null && (layer = firstNonFinite(p.buffers, p.bufferViews())) != null) what = "BN statistics";
        if (layer == null) return;
        System.arraycopy(weights, 0, p.data, 0, weights.length);
        System.arraycopy(buffers, 0, p.buffers, 0, buffers.length);
        sgd.restore(momentum, steps);
        model.setNumBatchesTracked(tracked);
        throw new NonFinite(message(what, at, layer, kept));
    }

    private static float[] copy(float[] from, float[] scratch) {
        if (scratch == null || scratch.length != from.length) scratch = new float[from.length];
        System.arraycopy(from, 0, scratch, 0, from.length);
        return scratch;
    }
}
