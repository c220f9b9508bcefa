package org.addernet.kernels;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.addernet.engine.Rng;
import org.addernet.engine.ThreadPool;

/**
 * Development harness: the phase-split layout (B) against the explicit im2col plan (A) of the same build, strided
 * shapes, in one JVM, A and B alternating per round, process CPU time per op (so a loaded machine hits both alike).
 * Prints per shape and op the median CPU ms of each side and B / A. Run: java [jvm options] -cp
 * target/classes:target/test-classes org.addernet.kernels.PhaseAbBench [threads] [rounds] [G-ops per measurement] [shape substring]
 */
final class PhaseAbBench {
    private PhaseAbBench() {
    }

    static final List<ConvGeometry> SHAPES = List.of(
            new ConvGeometry(64, 16, 32, 32, 32, 3, 2, 1),   // ResNet-20 stride-2 layers, batch 64
            new ConvGeometry(64, 32, 16, 16, 64, 3, 2, 1),
            new ConvGeometry(64, 16, 32, 32, 32, 1, 2, 0),   // ResNet-20 shortcuts
            new ConvGeometry(64, 32, 16, 16, 64, 1, 2, 0),
            new ConvGeometry(32, 64, 56, 56, 128, 3, 2, 1),  // ResNet-18 at 224, batch 32
            new ConvGeometry(32, 128, 28, 28, 256, 3, 2, 1),
            new ConvGeometry(32, 256, 14, 14, 512, 3, 2, 1),
            new ConvGeometry(32, 128, 28, 28, 256, 1, 2, 0));

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        double gops = args.length > 2 ? Double.parseDouble(args[2]) : 2;
        String[] ops = {"fwd", "igrad", "fgrad"};
        try (ThreadPool pool = new ThreadPool(threads)) {
            ColumnKernels k = ConvEngineTest.kernels("vector");
            ColumnConvEngine[] e = {
                new ColumnConvEngine(pool, k, ColumnConvEngine.DEFAULT_BUDGET, ColumnConvEngine.DEFAULT_TARGET_COLS, ColumnConvEngine.CACHE_FLOATS, false),
                new ColumnConvEngine(pool, k, ColumnConvEngine.DEFAULT_BUDGET, ColumnConvEngine.DEFAULT_TARGET_COLS, ColumnConvEngine.CACHE_FLOATS, true)};
            String only = args.length > 3 ? args[3] : "";
            for (ConvGeometry g : SHAPES) {
                if (!g.toString().contains(only)) continue;
                Rng r = new Rng(1);
                float[][] d = {gauss(r, g.inputSize()), gauss(r, g.filterSize()), gauss(r, g.outputSize()),
                    new float[g.outputSize()], new float[g.inputSize()], new float[g.filterSize()]};
                double[][][] ms = new double[2][ops.length][rounds];
                int reps = (int) Math.max(2, gops * 1e9 / g.ops());
                for (int w = 0; w < 3; w++) for (ColumnConvEngine x : e) for (String op : ops) run(x, op, g, d);
                for (int round = 0; round < rounds; round++) {
                    for (int side = 0; side < 2; side++) {
                        for (int o = 0; o < ops.length; o++) {
                            long s = KernelCpuBench.cpu();
                            for (int i = 0; i < reps; i++) run(e[side], ops[o], g, d);
                            ms[side][o][round] = (KernelCpuBench.cpu() - s) / 1e6 / reps;
                        }
                    }
                }
                StringBuilder line = new StringBuilder(g + " " + e[1].plan(g) + ":");
                for (int o = 0; o < ops.length; o++) {
                    double a = median(ms[0][o]), b = median(ms[1][o]);
                    line.append(String.format(Locale.ROOT, "  %s A %.2f B %.2f ms B/A %.2f", ops[o], a, b, b / a));
                }
                System.out.println(line);
            }
        }
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }

    private static void run(ConvEngine e, String op, ConvGeometry g, float[][] d) {
        switch (op) {
            case "fwd" -> e.adderForward(g, d[0], d[1], 0, d[3]);
            case "igrad" -> e.adderBackward(g, d[0], d[1], 0, d[2], d[4], null, 0);
            case "fgrad" -> e.adderBackward(g, d[0], d[1], 0, d[2], null, d[5], 0);
            default -> throw new IllegalArgumentException(op);
        }
    }

    private static float[] gauss(Rng r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }
}
