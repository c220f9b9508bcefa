package org.addernet.engine;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * All trainable parameters of a model in one flat {@code float[] data}, their gradients in a second array
 * {@code grad} with the same layout, and the non-trained buffers (BatchNorm running statistics) in a third.
 * Named views ({@link View}) point into them, in the order the model registered them (PyTorch's
 * {@code state_dict} order). A gradient therefore crosses the network as one {@code float[]}, and
 * aggregating workers is one array sum; the optimizer is one loop over the buffer.
 *
 * <p>A model built for inference ({@link Builder#buildForInference}) has no gradients: {@code grad} is empty, so a
 * training path that reaches it fails (here with a message, in a kernel with an index error) rather than
 * computing with a buffer that is not there; for a ResNet-50 that saves a full copy of the weights (~100 MB).
 */
public final class Params {
    /** What a parameter is, which decides how the optimizer treats its gradient. */
    public enum Kind {
        /** Adder filter: gets the adaptive learning-rate scaling (DESIGN.md §1). */
        ADDER,
        /** Ordinary convolution filter (or linear weight). */
        CONV,
        BN_WEIGHT,
        BN_BIAS,
        BIAS,
        /** Not trained: BatchNorm running mean/var, stored in {@link #buffers}. */
        BUFFER
    }

    /** A named tensor inside {@code data}/{@code grad} (or {@code buffers} for kind BUFFER). */
    public record View(String name, Kind kind, int offset, int[] shape) {
        public int size() {
            int s = 1;
            for (int d : shape) s *= d;
            return s;
        }
    }

    /**
     * Where a loader filling {@code data} while a forward already runs has got to (the sharded step's job A fetches
     * the weight slices in offset order on other threads): {@link #await} returns once {@code data[0, end)} and all of
     * {@code buffers} hold their values, or throws the loader's failure.
     */
    public interface Arrival {
        void await(int end);
    }

    /**
     * Told during a backward which parameter gradients are final (the sharded step's job A puts a gradient block as
     * soon as every layer it covers is done, while the backward goes on with the layers before them): each layer
     * calls {@link #gradientReady} at the end of its backward with the range of each of its parameters, on the thread
     * that runs the backward. Set only around a backward that is the last to add into {@code grad} before it is read.
     */
    public interface GradientReady {
        /** {@code grad[from, to)} holds its final values. */
        void ready(int from, int to);
    }

    public final float[] data;
    public final float[] grad;
    public final float[] buffers;
    private final List<View> params;
    private final List<View> bufferViews;
    private final Map<String, View> byName;
    /** Null: {@code data} and {@code buffers} are complete (the normal case). */
    private volatile Arrival arrival;
    /** Null: nobody waits for gradients during a backward (the normal case). */
    private volatile GradientReady gradientReady;

    private Params(List<View> params, List<View> bufferViews, int size, int bufferSize, boolean withGrad) {
        this.params = Collections.unmodifiableList(params);
        this.bufferViews = Collections.unmodifiableList(bufferViews);
        this.data = new float[size];
        this.grad = withGrad ? new float[size] : new float[0];
        this.buffers = new float[bufferSize];
        Map<String, View> m = new LinkedHashMap<>();
        for (View v : params) m.put(v.name(), v);
        for (View v : bufferViews) m.put(v.name(), v);
        this.byName = Collections.unmodifiableMap(m);
    }

    public List<View> params() { return params; }
    public List<View> bufferViews() { return bufferViews; }
    public int size() { return data.length; }

    public View view(String name) {
        View v = byName.get(name);
        if (v == null) throw new IllegalArgumentException("no parameter or buffer named '" + name + "'");
        return v;
    }

    public boolean has(String name) { return byName.containsKey(name); }

    /** The array a view lives in: {@code buffers} for BUFFER views, {@code data} otherwise. */
    public float[] arrayOf(View v) { return v.kind() == Kind.BUFFER ? buffers : data; }

    /**
     * While {@code a} is set, every layer's forward calls {@link #awaitData} with the end of its own parameters before
     * it reads them, so layer l computes as soon as its weights are in, not when all are (null: everything is in).
     */
    public void setArrival(Arrival a) {
        arrival = a;
    }

    /** Returns when {@code data[0, end)} and the buffers hold their values ({@link #setArrival}); at once when no loader runs. */
    public void awaitData(int end) {
        Arrival a = arrival;
        if (a != null) a.await(end);
    }

    /** While {@code r} is set, every layer's backward tells it which gradients it has finished (null: nobody asks). */
    public void setGradientReady(GradientReady r) {
        gradientReady = r;
    }

    /** A layer's backward is done with {@code grad[from, to)} ({@link #setGradientReady}). */
    public void gradientReady(int from, int to) {
        GradientReady r = gradientReady;
        if (r != null) r.ready(from, to);
    }

    /** False for parameters built for inference: {@code grad} is then empty. */
    public boolean hasGrad() { return grad.length == data.length; }

    public void zeroGrad() {
        requireGrad();
        java.util.Arrays.fill(grad, 0f);
    }

    /** Fails with a clear message when these parameters were built for inference (no gradient buffer). */
    public void requireGrad() {
        if (!hasGrad()) throw new IllegalStateException("parameters built for inference have no gradient buffer: this model cannot train");
    }

    /** Collects views while a model is built, then allocates the three buffers once. */
    public static final class Builder {
        private final List<View> params = new ArrayList<>();
        private final List<View> buffers = new ArrayList<>();
        private final java.util.Set<String> names = new java.util.HashSet<>();
        private int size;
        private int bufferSize;
        private Params built;

        /** Registers a parameter or buffer and returns its offset in its array. */
        public int add(String name, Kind kind, int... shape) {
            if (built != null) throw new IllegalStateException("parameters already allocated");
            if (!names.add(name)) throw new IllegalArgumentException("duplicate parameter name " + name);
            int n = 1;
            for (int d : shape) n = Math.multiplyExact(n, d);
            if (kind == Kind.BUFFER) {
                buffers.add(new View(name, kind, bufferSize, shape.clone()));
                int off = bufferSize;
                bufferSize = Math.addExact(bufferSize, n);
                return off;
            }
            params.add(new View(name, kind, size, shape.clone()));
            int off = size;
            size = Math.addExact(size, n);
            return off;
        }

        /** Allocates the arrays; layers read them through the returned object from then on. */
        public Params build() {
            if (built == null) built = new Params(params, buffers, size, bufferSize, true);
            return built;
        }

        /** As {@link #build}, without the gradient buffer (an eval-only model); must come before any {@code build()}. */
        public Params buildForInference() {
            if (built != null) throw new IllegalStateException("parameters already allocated");
            built = new Params(params, buffers, size, bufferSize, false);
            return built;
        }
    }
}
