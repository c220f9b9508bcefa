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
        long[] cpu = new long[reps];
        for (int r = 0; r < reps; r++) {
            long t0 = MX.getCurrentThreadCpuTime();
            body.run();
            cpu[r] = MX.getCurrentThreadCpuTime() - t0;
        }
        java.util.Arrays.sort(cpu);
        double ns = (double) cpu[reps / 2] / values;
        System.out.printf(Locale.ROOT, "%-34s %6.3f ns/value  %6.1f GB/s (%d floats moved per value)%n", name, ns,
                floatsMoved * 4.0 / ns, floatsMoved);
    }

    public static void main(String[] args) {
        int n = args.length >= 4 ? Integer.parseInt(args[0]) : 256, c = args.length >= 4 ? Integer.parseInt(args[1]) : 16;
        int h = args.length >= 4 ? Integer.parseInt(args[2]) : 32, w = args.length >= 4 ? Integer.parseInt(args[3]) : 32;
        int reps = args.length == 5 ? Integer.parseInt(args[4]) : args.length == 1 ? Integer.parseInt(args[0]) : 7;
        int hw = h * w, size = n * c * hw;
        System.out.printf(Locale.ROOT, "tensor %d x %d x %d x %d = %.1f MB, median of %d, 1 thread%n", n, c, h, w, size * 4e-6, reps);
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
