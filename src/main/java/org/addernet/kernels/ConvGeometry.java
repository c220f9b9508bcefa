package org.addernet.kernels;

/**
 * Shape of one 2-D convolution-like layer (adder or conv) applied to a batch.
 *
 * <p>Layouts: input {@code x} is NCHW, {@code x[((n*C + c)*H + h)*W + w]}; filters are OIHW,
 * {@code w[((o*C + c)*k + u)*k + v]} (so a filter row {@code o} is {@code K = C*k*k} contiguous floats);
 * output {@code y} is NCHW with {@code O} channels of {@code Ho x Wo}. Zero padding {@code pad} on all four
 * sides; {@code Ho = (H + 2*pad - k)/stride + 1} (floor), as PyTorch.
 */
public record ConvGeometry(int n, int c, int h, int w, int o, int k, int stride, int pad) {
    public ConvGeometry {
        if (n < 1 || c < 1 || h < 1 || w < 1 || o < 1 || k < 1 || stride < 1 || pad < 0) {
            throw new IllegalArgumentException("bad convolution geometry " + this);
        }
        if (h + 2 * pad < k || w + 2 * pad < k) {
            throw new IllegalArgumentException("kernel " + k + " larger than padded input " + h + "x" + w + " (pad " + pad + ")");
        }
    }

    public int ho() { return (h + 2 * pad - k) / stride + 1; }
    public int wo() { return (w + 2 * pad - k) / stride + 1; }
    /** Reduction length of one output: {@code C*k*k}. */
    public int kk() { return c * k * k; }
    /** Output positions per sample: {@code Ho*Wo}. */
    public int positions() { return ho() * wo(); }
    public int inputSize() { return n * c * h * w; }
    public int outputSize() { return n * o * positions(); }
    public int filterSize() { return o * kk(); }
    /** Additions (or multiply-accumulates) of one forward pass: {@code N*O*Ho*Wo*C*k*k}. */
    public long ops() { return (long) n * o * positions() * kk(); }
    public ConvGeometry withBatch(int batch) { return new ConvGeometry(batch, c, h, w, o, k, stride, pad); }

    @Override
    public String toString() {
        return n + "," + c + "," + h + "," + w + "," + o + "," + k + "," + stride + "," + pad;
    }
}
