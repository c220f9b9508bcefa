package org.addernet.layers;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * A network's shapes and costs for one sample, read off the layer definitions by walking it once
 * ({@link Layer#describe}), never by running it: per layer the output shape, parameters, multiply-accumulates
 * (or adder accumulates), multiplications and additions of a forward pass, and the bytes its backward needs to
 * keep from the forward pass.
 *
 * <p>Counting conventions (what {@code summary} prints): a convolution MAC is 1 multiplication + 1 addition; an
 * adder accumulate {@code acc += |x - w|} is a subtraction, an absolute value (clearing the sign bit, free) and an
 * addition, i.e. 2 additions; a bias is 1 addition per output. BatchNorm counts as inference folds it, 1
 * multiplication + 1 addition per value; average pooling H*W-1 additions + 1 multiplication per channel; the
 * residual sum 1 addition per value; ReLU and max pooling only compare (not counted). The AdderNet paper's #Mul /
 * #Add count the convolution-like layers only ({@link Row#filter}); both totals are available.
 *
 * <p>Retained memory: a tensor is counted once however many layers keep it (a block input kept by both the
 * first conv and the shortcut), by identity of its {@link Act}. What each layer keeps: conv/adder and BatchNorm
 * their input, ReLU and the residual sum their output (the mask), max pooling one int index per output.
 */
public final class Costs {
    /** One sample's activation, C x H x W; a distinct object per tensor. */
    public static final class Act {
        public final int c, h, w;

        public Act(int c, int h, int w) {
            this.c = c;
            this.h = h;
            this.w = w;
        }

        public long size() {
            return (long) c * h * w;
        }

        @Override
        public String toString() {
            return c + "x" + h + "x" + w;
        }
    }

    /**
     * One layer: {@code macs} are the multiply-accumulates of a conv or the {@code |x - w|} accumulates of an
     * adder layer (0 for others); {@code filter} marks the convolution-like layers (conv, adder, fc);
     * {@code keptBytes} what this layer adds to the memory retained for backward, per sample.
     */
    public record Row(String name, String op, Act out, long params, long macs, long mults, long adds, boolean filter,
                      long keptBytes) {}

    private final List<Row> rows = new ArrayList<>();
    private final Set<Act> kept = Collections.newSetFromMap(new IdentityHashMap<>());
    private long pending;

    /** Marks an activation as kept for backward; counted on the next row. */
    public void keep(Act a) {
        if (kept.add(a)) pending += 4 * a.size();
    }

    /** Other per-sample bytes kept for backward (e.g. max-pool indices); counted on the next row. */
    public void keepBytes(long bytes) {
        pending += bytes;
    }

    public void add(String name, String op, Act out, long params, long macs, long mults, long adds, boolean filter) {
        rows.add(new Row(name, op, out, params, macs, mults, adds, filter, pending));
        pending = 0;
    }

    public List<Row> rows() {
        return Collections.unmodifiableList(rows);
    }

    /** Sum of a row field over all rows ({@code filterOnly}: over the convolution-like layers only). */
    public long total(java.util.function.ToLongFunction<Row> field, boolean filterOnly) {
        long s = 0;
        for (Row r : rows) if (r.filter() || !filterOnly) s += field.applyAsLong(r);
        return s;
    }

    /** Bytes per sample the backward pass needs from the forward pass. */
    public long keptBytesPerSample() {
        return total(Row::keptBytes, false) + pending;
    }
}
