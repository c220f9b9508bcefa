package org.addernet.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.addernet.engine.Engine;
import org.addernet.engine.Rng;
import org.addernet.engine.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Max pooling against its definition, bit for bit: per window (padded positions left out) the first valid value in
 * row-major order, replaced only by a strictly greater one; the backward adds each output's gradient at that
 * position, outputs in order. Inputs that make the fast path's shortcuts matter: ties of small integers, -0 and +0
 * mixed (the first zero's sign must win), NaN first in a window (it wins) and later (skipped), -inf everywhere in a
 * window, and kernel/stride/padding combinations of LeNet (2/2/0), ResNet-18 (3/2/1), overlapping stride 1 and odd
 * map sizes, at 1, 2 and 3 threads.
 */
class MaxPool2dTest {
    /** k, stride, pad */
    static final int[][] POOLS = {{2, 2, 0}, {3, 2, 1}, {3, 1, 1}, {3, 3, 0}, {5, 2, 2}, {1, 1, 0}};
    /** n, c, h, w: above Passes.PARALLEL_MIN for the last, so the threads split it. */
    static final int[][] SHAPES = {{1, 1, 7, 9}, {2, 3, 8, 8}, {3, 5, 13, 11}, {4, 16, 33, 35}};

    /** The definition: index of the window's maximum, or of its first value where that is NaN. */
    private static int refArgmax(float[] x, int plane, int h, int w, int i, int j, int k, int s, int p) {
        int best = -1;
        for (int u = 0; u < k; u++) {
            for (int v = 0; v < k; v++) {
                int r = i * s - p + u, c = j * s - p + v;
                if (r < 0 || r >= h || c < 0 || c >= w) continue;
                int idx = plane + r * w + c;
                if (best < 0 || x[idx] > x[best]) best = idx;
            }
        }
        return best;
    }

    private static Tensor input(int[] sh, long seed, int kind) {
        Rng rng = new Rng(seed);
        Tensor t = new Tensor(sh[0], sh[1], sh[2], sh[3]);
        for (int i = 0; i < t.size(); i++) {
            double g = rng.nextGaussian();
            t.data[i] = switch (kind) {
                case 0 -> (float) g;
                case 1 -> (float) Math.floor(g * 1.5); // many ties
                case 2 -> g < 0.3 ? (rng.nextDouble() < 0.5 ? -0f : 0f) : (float) -Math.abs(g); // zeros of both signs are the maxima
                case 3 -> rng.nextDouble() < 0.15 ? Float.NaN : rng.nextDouble() < 0.3 ? Float.NEGATIVE_INFINITY : (float) g;
                default -> rng.nextDouble() < 0.8 ? Float.NEGATIVE_INFINITY : (float) g;
            };
        }
        return t;
    }

    @Test
    void forwardAndBackwardMatchTheDefinition() {
        for (int threads : new int[] {1, 2, 3}) {
            try (Engine engine = Engine.create(threads, "auto")) {
                int cases = 0;
                for (int[] pool : POOLS) {
                    for (int[] sh : SHAPES) {
                        for (int kind = 0; kind < 5; kind++) {
                            check(engine, pool, sh, kind, 31L * cases++ + threads);
                        }
                    }
                }
            }
        }
    }

    private static void check(Engine engine, int[] pool, int[] sh, int kind, long seed) {
        int k = pool[0], s = pool[1], p = pool[2], n = sh[0], c = sh[1], h = sh[2], w = sh[3];
        int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
        Tensor x = input(sh, seed, kind);
        String what = "pool " + k + "/" + s + "/" + p + " on " + x + " kind " + kind + ", " + engine.pool().threads() + " threads";
        float[] wantY = new float[n * c * ho * wo];
        int[] wantArg = new int[wantY.length];
        for (int pl = 0; pl < n * c; pl++) {
            for (int i = 0; i < ho; i++) {
                for (int j = 0; j < wo; j++) {
                    int o = (pl * ho + i) * wo + j, a = refArgmax(x.data, pl * h * w, h, w, i, j, k, s, p);
                    wantArg[o] = a;
                    wantY[o] = x.data[a];
                }
            }
        }
        MaxPool2d eval = new MaxPool2d(engine, k, s, p);
        Tensor ye = eval.forward(x, false);
        MaxPool2d mp = new MaxPool2d(engine, k, s, p);
        Tensor y = mp.forward(x, true);
        for (int o = 0; o < wantY.length; o++) {
            int want = Float.floatToRawIntBits(wantY[o]);
            assertEquals(want, Float.floatToRawIntBits(y.data[o]), what + ": output " + o);
            assertEquals(want, Float.floatToRawIntBits(ye.data[o]), what + ": eval output " + o);
        }
        // Gradients that tell every output apart, and sums where windows overlap (added in output order).
        Tensor dy = new Tensor(n, c, ho, wo);
        Rng rng = new Rng(seed + 7);
        for (int o = 0; o < dy.size(); o++) dy.data[o] = (float) rng.nextGaussian();
        float[] wantDx = new float[x.size()];
        for (int o = 0; o < dy.size(); o++) wantDx[wantArg[o]] += dy.data[o];
        Tensor dx = mp.backward(dy);
        for (int i = 0; i < wantDx.length; i++) {
            assertEquals(Float.floatToRawIntBits(wantDx[i]), Float.floatToRawIntBits(dx.data[i]), what + ": dx " + i);
        }
    }
}
