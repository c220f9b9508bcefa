package org.addernet.layers;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;
import org.addernet.engine.Rng;

/**
 * Development harness: each pass of {@link Passes} timed in the calling thread's CPU time (not wall time, so a loaded
 * machine skews it less) over one activation tensor of NCHW shape (n, c, h, w), walked as BatchNorm walks it (channel
 * by channel, a channel's planes in sample order) or as one range (the elementwise passes), next to a streaming copy
 * ({@code System.arraycopy} and a plain loop) of the same tensor: ns per value, and GB/s of the bytes each pass moves
 * (4 per float read or written). A pass far below the copy's GB/s is arithmetic-bound (scalar double, not vectorized),
 * not bandwidth-bound. Run: java -cp target/classes:target/test-classes org.addernet.layers.PassBench [n c h w] [reps]
 * (default 256 16 32 32, ResNet-20's first stage at batch 256; 256 32 16 16 is the second).
 */
final class PassBench {
    private PassBench() {
    }

    private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

    @FunctionalInterface
    interface Body {
        void run();
    }

    private static void time(String name, int values, int floatsMoved, int reps, Body body) {
        for (int w = 0; w < 3; w++) body.run(); // C2 compiles it
        long best = Long.MAX_VALUE;
        for (int r = 0; r < reps; r++) {
            long t0 = MX.getCurrentThreadCpuTime();
            body.run();
            best = Math.min(best, MX.getCurrentThreadCpuTime() - t0);
        }
        double ns = (double) best / values;
        System.out.printf(Locale.ROOT, "%-34s %6.3f ns/value  %6.1f GB/s (%d floats moved per value)%n", name, ns,
                floatsMoved * 4.0 / ns, floatsMoved);
    }

    /** The two-pass double sums BatchNorm used before {@link Passes#moments} (8 double lanes, one value at a time). */
    static void oldSum(float[] x, int off, int len, double[] lanes) {
        double s0 = lanes[0], s1 = lanes[1], s2 = lanes[2], s3 = lanes[3], s4 = lanes[4], s5 = lanes[5], s6 = lanes[6], s7 = lanes[7];
        int j = 0;
        for (; j + 8 <= len; j += 8) {
            int i = off + j;
            s0 += x[i]; s1 += x[i + 1]; s2 += x[i + 2]; s3 += x[i + 3];
            s4 += x[i + 4]; s5 += x[i + 5]; s6 += x[i + 6]; s7 += x[i + 7];
        }
        lanes[0] = s0; lanes[1] = s1; lanes[2] = s2; lanes[3] = s3; lanes[4] = s4; lanes[5] = s5; lanes[6] = s6; lanes[7] = s7;
        for (; j < len; j++) lanes[j & 7] += x[off + j];
    }

    static void oldSquares(float[] x, int off, int len, double mean, double[] lanes) {
        double s0 = lanes[0], s1 = lanes[1], s2 = lanes[2], s3 = lanes[3], s4 = lanes[4], s5 = lanes[5], s6 = lanes[6], s7 = lanes[7];
        int j = 0;
        for (; j + 8 <= len; j += 8) {
            int i = off + j;
            double d0 = x[i] - mean, d1 = x[i + 1] - mean, d2 = x[i + 2] - mean, d3 = x[i + 3] - mean;
            double d4 = x[i + 4] - mean, d5 = x[i + 5] - mean, d6 = x[i + 6] - mean, d7 = x[i + 7] - mean;
            s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3;
            s4 += d4 * d4; s5 += d5 * d5; s6 += d6 * d6; s7 += d7 * d7;
        }
        lanes[0] = s0; lanes[1] = s1; lanes[2] = s2; lanes[3] = s3; lanes[4] = s4; lanes[5] = s5; lanes[6] = s6; lanes[7] = s7;
        for (; j < len; j++) {
            double d = x[off + j] - mean;
            lanes[j & 7] += d * d;
        }
    }

    /** BatchNorm backward's sums before the float runs: a double lane per value. */
    static void oldGradientSums(float[] x, float[] dy, float[] mask, float[] out, int off, int len, double mean, double[] lanesG, double[] lanesGD) {
        // One pass: the branch-free mask (written to out) and the two sums in 8 + 8 local lanes; `mask != null` is
        // loop-invariant, so C2 unswitches the loop on it.
        double g0 = lanesG[0], g1 = lanesG[1], g2 = lanesG[2], g3 = lanesG[3], g4 = lanesG[4], g5 = lanesG[5], g6 = lanesG[6], g7 = lanesG[7];
        double h0 = lanesGD[0], h1 = lanesGD[1], h2 = lanesGD[2], h3 = lanesGD[3], h4 = lanesGD[4], h5 = lanesGD[5], h6 = lanesGD[6], h7 = lanesGD[7];
        int j = 0;
        for (; j + 8 <= len; j += 8) {
            int i = off + j;
            float e0 = dy[i], e1 = dy[i + 1], e2 = dy[i + 2], e3 = dy[i + 3], e4 = dy[i + 4], e5 = dy[i + 5], e6 = dy[i + 6], e7 = dy[i + 7];
            if (mask != null) {
                e0 = ScalarPasses.select(mask[i], e0);
                e1 = ScalarPasses.select(mask[i + 1], e1);
                e2 = ScalarPasses.select(mask[i + 2], e2);
                e3 = ScalarPasses.select(mask[i + 3], e3);
                e4 = ScalarPasses.select(mask[i + 4], e4);
                e5 = ScalarPasses.select(mask[i + 5], e5);
                e6 = ScalarPasses.select(mask[i + 6], e6);
                e7 = ScalarPasses.select(mask[i + 7], e7);
                out[i] = e0;
                out[i + 1] = e1;
                out[i + 2] = e2;
                out[i + 3] = e3;
                out[i + 4] = e4;
                out[i + 5] = e5;
                out[i + 6] = e6;
                out[i + 7] = e7;
            }
            g0 += e0;
            g1 += e1;
            g2 += e2;
            g3 += e3;
            g4 += e4;
            g5 += e5;
            g6 += e6;
            g7 += e7;
            h0 += e0 * (x[i] - mean);
            h1 += e1 * (x[i + 1] - mean);
            h2 += e2 * (x[i + 2] - mean);
            h3 += e3 * (x[i + 3] - mean);
            h4 += e4 * (x[i + 4] - mean);
            h5 += e5 * (x[i + 5] - mean);
            h6 += e6 * (x[i + 6] - mean);
            h7 += e7 * (x[i + 7] - mean);
        }
        lanesG[0] = g0;
        lanesG[1] = g1;
        lanesG[2] = g2;
        lanesG[3] = g3;
        lanesG[4] = g4;
        lanesG[5] = g5;
        lanesG[6] = g6;
        lanesG[7] = g7;
        lanesGD[0] = h0;
        lanesGD[1] = h1;
        lanesGD[2] = h2;
        lanesGD[3] = h3;
        lanesGD[4] = h4;
        lanesGD[5] = h5;
        lanesGD[6] = h6;
        lanesGD[7] = h7;
        for (; j < len; j++) {
            int i = off + j;
            float g = dy[i];
            if (mask != null) {
                g = ScalarPasses.select(mask[i], g);
                out[i] = g;
            }
            lanesG[j & 7] += g;
            lanesGD[j & 7] += g * (x[i] - mean);
        }
    }

    public static void main(String[] args) {
        int n = args.length >= 4 ? Integer.parseInt(args[0]) : 256, c = args.length >= 4 ? Integer.parseInt(args[1]) : 16;
        int h = args.length >= 4 ? Integer.parseInt(args[2]) : 32, w = args.length >= 4 ? Integer.parseInt(args[3]) : 32;
        int reps = args.length == 5 ? Integer.parseInt(args[4]) : args.length == 1 ? Integer.parseInt(args[0]) : 7;
        int hw = h * w, size = n * c * hw;
        System.out.printf(Locale.ROOT, "tensor %d x %d x %d x %d = %.1f MB, best of %d, 1 thread%n", n, c, h, w, size * 4e-6, reps);
        Rng rng = new Rng(1);
        float[] x = new float[size], y = new float[size], dy = new float[size], g = new float[size], s = new float[size];
        for (int i = 0; i < size; i++) {
            x[i] = (float) (rng.nextGaussian() * 3 - 40);
            dy[i] = (float) rng.nextGaussian();
            s[i] = (float) rng.nextGaussian();
        }
        Passes p = Passes.get();
        double[] l1 = new double[Passes.LANES], l2 = new double[Passes.LANES];
        for (int i = 0; i < size; i++) y[i] = Math.max(((x[i] + 40f) - 0f) * 0.3f + 0.1f, 0f);
        time("System.arraycopy", size, 2, reps, () -> System.arraycopy(x, 0, g, 0, size));
        time("copy loop", size, 2, reps, () -> {
            for (int i = 0; i < size; i++) g[i] = x[i];
        });
        time("read loop (float sum, 8 chains)", size, 1, reps, () -> {
            float a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
            for (int i = 0; i + 8 <= size; i += 8) {
                a0 += x[i]; a1 += x[i + 1]; a2 += x[i + 2]; a3 += x[i + 3];
                a4 += x[i + 4]; a5 += x[i + 5]; a6 += x[i + 6]; a7 += x[i + 7];
            }
            if (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 == 1.2345f) System.out.print("");
        });
        for (int round = 0; round < 3; round++) {
            time("old: double sum + sq. dev. (2 reads)", size, 2, reps, () -> {
                for (int ch = 0; ch < c; ch++) for (int i = 0; i < n; i++) oldSum(x, (i * c + ch) * hw, hw, l1);
                for (int ch = 0; ch < c; ch++) for (int i = 0; i < n; i++) oldSquares(x, (i * c + ch) * hw, hw, -40.0, l1);
            });
            time("new: moments (1 read)", size, 1, reps, () -> {
                for (int ch = 0; ch < c; ch++) for (int i = 0; i < n; i++) p.moments(x, (i * c + ch) * hw, hw, -40f, l1, l2);
            });
        }
        for (int round = 0; round < 3; round++) {
            time("old: gradientSums, double lanes", size, 2, reps, () -> {
                for (int ch = 0; ch < c; ch++) for (int i = 0; i < n; i++) oldGradientSums(x, dy, null, null, (i * c + ch) * hw, hw, -40.0, l1, l2);
            });
            time("new: gradientSums, double lanes", size, 2, reps, () -> {
                for (int ch = 0; ch < c; ch++) for (int i = 0; i < n; i++) p.gradientSums(x, dy, null, null, (i * c + ch) * hw, hw, -40.0, l1, l2);
            });
        }
        time("bn moments (sum d, d^2, per channel)", size, 1, reps, () -> {
            for (int ch = 0; ch < c; ch++) for (int i = 0; i < n; i++) p.moments(x, (i * c + ch) * hw, hw, -40f, l1, l2);
        });
        time("bn normalize+relu", size, 2, reps, () -> {
            for (int ch = 0; ch < c; ch++) for (int i = 0; i < n; i++) p.normalize(x, y, (i * c + ch) * hw, hw, -40f, 0f, 0.3f, 0.1f, true);
        });
        time("bn normalize+add+relu (fused)", size, 3, reps, () -> {
            for (int ch = 0; ch < c; ch++) for (int i = 0; i < n; i++) p.normalizeAddRelu(x, s, g, (i * c + ch) * hw, hw, -40f, 0f, 0.3f, 0.1f);
        });
        time("bn gradientSums, mask (rw dy)", size, 4, reps, () -> {
            System.arraycopy(dy, 0, g, 0, size);
            for (int ch = 0; ch < c; ch++) for (int i = 0; i < n; i++) p.gradientSums(x, g, y, g, (i * c + ch) * hw, hw, -40.0, l1, l2);
        });
        time("  (its arraycopy alone)", size, 2, reps, () -> System.arraycopy(dy, 0, g, 0, size));
        time("bn gradientSums, no mask", size, 2, reps, () -> {
            for (int ch = 0; ch < c; ch++) for (int i = 0; i < n; i++) p.gradientSums(x, dy, null, null, (i * c + ch) * hw, hw, -40.0, l1, l2);
        });
        time("bn gradientSums, mask to copy", size, 4, reps, () -> {
            for (int ch = 0; ch < c; ch++) for (int i = 0; i < n; i++) p.gradientSums(x, dy, y, g, (i * c + ch) * hw, hw, -40.0, l1, l2);
        });
        time("bn inputGradient (in place)", size, 3, reps, () -> {
            for (int ch = 0; ch < c; ch++) for (int i = 0; i < n; i++) p.inputGradient(x, g, (i * c + ch) * hw, hw, -40f, 0f, 0.5f, 0.01f, 0.02f);
        });
        time("bn inputGradient (g -> dx)", size, 3, reps, () -> {
            for (int ch = 0; ch < c; ch++) for (int i = 0; i < n; i++) p.inputGradient(x, g, s, (i * c + ch) * hw, hw, -40f, 0f, 0.5f, 0.01f, 0.02f);
        });
        time("residual addRelu", size, 3, reps, () -> p.addRelu(x, s, g, 0, size));
        time("residual reluGradient + copy", size, 4, reps, () -> p.reluGradient(y, g, s, 0, size));
        time("residual addInto", size, 3, reps, () -> p.addInto(g, s, 0, size));
    }
}
