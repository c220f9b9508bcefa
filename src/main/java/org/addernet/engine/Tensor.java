package org.addernet.engine;

/**
 * A batch of activations in NCHW order: element (n, c, h, w) is {@code data[((n*C + c)*H + h)*W + w]}.
 * A flat vector of {@code k} features per sample is a tensor of shape (N, k, 1, 1).
 * Tensors are owned by the layer that produced them and reused from step to step (no per-step garbage).
 */
public final class Tensor {
    public final int n, c, h, w;
    public final float[] data;

    public Tensor(int n, int c, int h, int w) {
        this(n, c, h, w, new float[Math.multiplyExact(Math.multiplyExact(n, c), Math.multiplyExact(h, w))]);
    }

    public Tensor(int n, int c, int h, int w, float[] data) {
        if ((long) n * c * h * w > data.length) {
            throw new IllegalArgumentException("tensor " + n + "x" + c + "x" + h + "x" + w + " does not fit " + data.length + " floats");
        }
        this.n = n;
        this.c = c;
        this.h = h;
        this.w = w;
        this.data = data;
    }

    public int size() { return n * c * h * w; }
    public int perSample() { return c * h * w; }
    public boolean sameShape(Tensor o) { return o != null && o.n == n && o.c == c && o.h == h && o.w == w; }

    /**
     * Returns {@code t} if it already has this shape, else a tensor of that shape, on {@code t}'s buffer when it is
     * large enough (reuses buffers across steps, and across micro-batches of unequal sizes: a smaller batch then
     * allocates nothing). Contents are undefined.
     */
    public static Tensor reuse(Tensor t, int n, int c, int h, int w) {
        if (t != null && t.n == n && t.c == c && t.h == h && t.w == w) return t;
        if (t != null && (long) n * c * h * w <= t.data.length) return new Tensor(n, c, h, w, t.data);
        return new Tensor(n, c, h, w);
    }

    @Override
    public String toString() {
        return "Tensor[" + n + "," + c + "," + h + "," + w + "]";
    }
}
