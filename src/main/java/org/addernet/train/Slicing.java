package org.addernet.train;

/**
 * A flat vector of {@code n} floats cut into {@code W} contiguous slices of near-equal size, the unit of ownership of
 * the sharded synchronous step ({@code sync=sharded}): slice {@code q} is {@code [from(q), to(q))}. Boundaries sit
 * at multiples of 16 floats (whole 64-byte lines, whole vectors), so a slice may be empty when {@code n} is small
 * and a layer may span several slices. A pure function of (n, W), so every mode (driver, sharded, single process
 * emulating W workers) cuts the same way; {@link Sgd} takes each adder layer's sum of squares as the sum, in slice
 * order, of its partial sums over the slices, which makes the norms bit-identical across modes.
 */
public final class Slicing implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    /** Boundaries are rounded to this many floats. */
    public static final int ALIGN = 16;

    private final int[] bounds;

    private Slicing(int[] bounds) {
        this.bounds = bounds;
    }

    public static Slicing of(int n, int slices) {
        if (n < 0 || slices < 1) throw new IllegalArgumentException("cannot cut " + n + " floats into " + slices + " slices");
        int[] b = new int[slices + 1];
        for (int q = 1; q < slices; q++) {
            long ideal = (long) n * q / slices;
            long rounded = (ideal + ALIGN / 2) / ALIGN * ALIGN;
            b[q] = (int) Math.max(b[q - 1], Math.min(rounded, n));
        }
        b[slices] = n;
        return new Slicing(b);
    }

    public int slices() { return bounds.length - 1; }
    public int size() { return bounds[bounds.length - 1]; }
    public int from(int q) { return bounds[q]; }
    public int to(int q) { return bounds[q + 1]; }
    public int length(int q) { return bounds[q + 1] - bounds[q]; }

    /** Whether some slice boundary falls strictly inside {@code [offset, offset + length)}. */
    public boolean cuts(int offset, int length) {
        for (int q = 1; q < slices(); q++) if (bounds[q] > offset && bounds[q] < offset + length) return true;
        return false;
    }
}
