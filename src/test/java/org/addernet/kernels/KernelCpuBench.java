package org.addernet.kernels;

import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Locale;
import org.addernet.engine.Rng;
import org.addernet.engine.ThreadPool;

/**
 * Development harness: adder ops timed in process CPU time (not wall time), so kernel variants can be compared
 * on a loaded machine. Prints G-ops per CPU-second (per core; two busy threads give up to twice that in wall
 * time) for forward, input gradient (dw null) and filter gradient (dx null) on the ResNet-20 and ResNet-18 3x3
 * shapes. Run: java [jvm options] -cp target/classes:target/test-classes org.addernet.kernels.KernelCpuBench [threads] [seconds per op] [ops] [shapes: r18 | big]
 */
final class KernelCpuBench {
    private KernelCpuBench() {
    }

    static final List<ConvGeometry> SHAPES = List.of(
            new ConvGeometry(64, 16, 32, 32, 16, 3, 1, 1),
            new ConvGeometry(64, 32, 16, 16, 32, 3, 1, 1),
            new ConvGeometry(64, 64, 8, 8, 64, 3, 1, 1),
            new ConvGeometry(32, 64, 56, 56, 64, 3, 1, 1),
            new ConvGeometry(32, 128, 28, 28, 128, 3, 1, 1),
            new ConvGeometry(32, 256, 14, 14, 256, 3, 1, 1),
            new ConvGeometry(32, 512, 7, 7, 512, 3, 1, 1));

    /** ResNet-18's stride-2 and 1x1 layers, ResNet-50's 1x1 layers and the 7x7 stem (C = 3), batch 32 at 224. */
    static final List<ConvGeometry> BIG = List.of(
            new ConvGeometry(32, 64, 56, 56, 128, 3, 2, 1),
            new ConvGeometry(32, 256, 14, 14, 512, 3, 2, 1),
            new ConvGeometry(32, 128, 28, 28, 256, 1, 2, 0),
            new ConvGeometry(32, 256, 56, 56, 64, 1, 1, 0),
            new ConvGeometry(32, 1024, 14, 14, 256, 1, 1, 0),
            new ConvGeometry(32, 2048, 7, 7, 512, 1, 1, 0),
            new ConvGeometry(32, 3, 224, 224, 64, 7, 2, 3));

    /** Process CPU time, ns (also PhaseAbBench's clock). */
    static long cpu() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        double seconds = args.length > 1 ? Double.parseDouble(args[1]) : 1.0;
        String only = args.length > 2 ? args[2] : "fwd,igrad,fgrad";
        System.out.println("C1 excluded: " + VectorColumnKernels.C1_EXCLUDED);
        List<ConvGeometry> shapes = args.length > 3 && args[3].equals("big") ? BIG : SHAPES;
        try (ThreadPool pool = new ThreadPool(threads)) {
            ColumnConvEngine e = new ColumnConvEngine(pool, ConvEngineTest.kernels("vector"));
            Rng r = new Rng(1);
            float[][][] data = new float[shapes.size()][][];
            for (int i = 0; i < shapes.size(); i++) {
                ConvGeometry g = shapes.get(i);
                data[i] = new float[][] {gauss(r, g.inputSize()), gauss(r, g.filterSize()), gauss(r, g.outputSize()),
                    new float[g.outputSize()], new float[g.inputSize()], new float[g.filterSize()]};
            }
            // warm-up: every op of every shape, ~3 s CPU
            long c0 = cpu();
            while (cpu() - c0 < 3_000_000_000L) {
                for (int i = 0; i < shapes.size(); i++) {
                    for (String op : only.split(",")) run(e, op, shapes.get(i), data[i]);
                }
            }
            for (String op : only.split(",")) {
                StringBuilder line = new StringBuilder(op + ":");
                for (int i = 0; i < shapes.size(); i++) {
                    ConvGeometry g = shapes.get(i);
                    int reps = 0;
                    long s = cpu(), t;
                    do {
                        run(e, op, g, data[i]);
                        reps++;
                    } while ((t = cpu()) - s < seconds * 1e9);
                    line.append(String.format(Locale.ROOT, " %6.1f", (double) g.ops() * reps / (t - s)));
                }
                System.out.println(line);
            }
        }
    }

    static float[] kx, ky;
    static final ColumnKernels K = ConvEngineTest.kernels("vector");

    private static void run(ConvEngine e, String op, ConvGeometry g, float[][] d) {
        switch (op) {
            case "fwd" -> e.adderForward(g, d[0], d[1], 0, d[3]);
            case "igrad" -> e.adderBackward(g, d[0], d[1], 0, d[2], d[4], null, 0);
            case "fgrad" -> e.adderBackward(g, d[0], d[1], 0, d[2], null, d[5], 0);
            case "cfgrad" -> e.convBackward(g, d[0], d[1], 0, d[2], null, d[5], 0);
            case "kfwd" -> {
                // the kernel alone, one thread, on a dense K x 2048 column matrix
                int kk = g.kk(), ld = 2048;
                if (kx == null || kx.length < kk * ld) {
                    kx = new float[kk * ld];
                    for (int i = 0; i < kx.length; i++) kx[i] = (i * 7 % 13) * 0.1f;
                }
                if (ky == null || ky.length < g.o() * ld) ky = new float[g.o() * ld];
                int[] rows = new int[kk];
                for (int k = 0; k < kk; k++) rows[k] = k * ld;
                K.adderForward(g.o(), kk, ld, d[1], 0, kx, rows, ky);
            }
            default -> throw new IllegalArgumentException(op);
        }
    }

    private static float[] gauss(Rng r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }
}
