package org.addernet.kernels;

/**
 * What an eval-mode forward does to each output value right after computing it, in place of the passes that would
 * follow the layer: the eval BatchNorm as a per-channel affine map {@code v = ((y - meanHi) - meanLo) * scale + beta} in
 * float with the running mean split into two floats (as {@code ScalarPasses.normalize}), then the ReLU ({@code relu}), then the residual sum and its ReLU ({@code residual}, the shortcut in the
 * output's layout: {@code v = max(v + residual, 0)}). These are the float operations of
 * {@code BatchNorm2d.forward} (eval), its fused ReLU and {@code Residual}'s sum, in the same order, so an output has
 * the same bits whether the map runs inside the engine's threads or the passes run after the layer. The engine
 * applies it to the values each thread wrote, in the same parallel call: at batch 1 the passes were serial (too small
 * to split) and took about a sixth of a ResNet-20 forward.
 *
 * <p>Layout: {@code y} is (N, O, P) with P = Ho*Wo; channel {@code o} of {@code mean}/{@code scale}/{@code beta}.
 */
public record OutputMap(float[] meanHi, float[] meanLo, float[] scale, float[] beta, boolean relu, float[] residual) {
    public OutputMap {
        int c = meanHi.length;
        if (meanLo.length != c || scale.length != c || beta.length != c) throw new IllegalArgumentException("channel arrays differ in length");
    }

    /** Checks that the map fits an output of geometry {@code g}. */
    void check(ConvGeometry g) {
        if (meanHi.length < g.o()) throw new IllegalArgumentException("output map has " + meanHi.length + " channels, layer " + g);
        if (residual != null && residual.length < g.outputSize()) throw new IllegalArgumentException("residual too short for " + g);
    }

    /** Maps {@code y[off, off + len)}, all of channel {@code c}, in place. */
    void apply(float[] y, int off, int len, int c) {
        float mh = meanHi[c], ml = meanLo[c], sc = scale[c], b = beta[c];
        float[] s = residual;
        int end = off + len;
        // Math.max(v, 0f) as ScalarPasses.normalize and addRelu clamp (v if v > 0 or NaN, else +0): branch-free, where a
        // float `v > 0 ? v : 0` would be a branch mispredicted on half of the activations.
        if (s != null) {
            for (int i = off; i < end; i++) {
                float v = ((y[i] - mh) - ml) * sc + b;
                if (relu) v = Math.max(v, 0f);
                y[i] = Math.max(v + s[i], 0f);
            }
        } else if (relu) {
            for (int i = off; i < end; i++) {
                y[i] = Math.max(((y[i] - mh) - ml) * sc + b, 0f);
            }
        } else {
            for (int i = off; i < end; i++) y[i] = ((y[i] - mh) - ml) * sc + b;
        }
    }

    /** Maps samples {@code [n0, n1)} of an (N, O, P) output. */
    void applySamples(float[] y, int o, int p, int n0, int n1) {
        for (int n = n0; n < n1; n++) {
            for (int r = 0; r < o; r++) apply(y, (n * o + r) * p, p, r);
        }
    }

    /** Maps the global columns {@code q = n*P + pos} in {@code [q0, q1)} of an (N, O, P) output, every channel. */
    void applyColumns(float[] y, int o, int p, int q0, int q1) {
        for (int q = q0; q < q1; ) {
            int n = q / p, pa = q - n * p, pb = Math.min(p, q1 - n * p);
            for (int r = 0; r < o; r++) apply(y, (n * o + r) * p + pa, pb - pa, r);
            q = n * p + pb;
        }
    }
}
