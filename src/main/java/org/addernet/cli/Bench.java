package org.addernet.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.addernet.engine.Rng;
import org.addernet.engine.ThreadPool;
import org.addernet.kernels.ConvEngine;
import org.addernet.kernels.ConvEngines;
import org.addernet.kernels.ConvGeometry;

/**
 * Times the conv engine on the layer shapes of ResNet-20 (batch 64), LeNet-5-BN (batch 256) and, on request, the
 * 3x3 shapes of ResNet-18 at 224 (batch 32).
 *
 * <p>Usage: {@code Bench [--threads N] [--kernels auto|vector|scalar] [--reps R] [--warmup-ms M] [--nets resnet20,lenet5bn[,resnet18]]}.
 * Prints one JSON object per line on stdout: per shape and op the median wall time over {@code R} timed runs
 * (after ~2 s of JIT warm-up over all shapes, then at least {@code M} ms per op) and G-ops/s, where one op is one |x - w| accumulate or one
 * multiply-add, {@code ConvGeometry.ops()} per pass (so {@code *_fwd_bwd}, three passes, counts 3x). The
 * input- and filter-gradient rows time the backward with {@code dw == null} resp. {@code dx == null}, so both
 * include the shared im2col. Inputs are a ReLU's outputs (what every adder layer after a network's first sees:
 * the engine's 2-op adder forward), except {@code adder_forward_signed} (signed inputs: the 3-op kernels). Then a
 * ratio row per shape and a summary line.
 *
 * <p>Counting mode for {@code perf stat}: {@code --shape n,c,h,w,o} (3x3, stride 1, pad 1 unless given as
 * {@code n,c,h,w,o,k,stride,pad}) {@code --op adder_forward|adder_input_grad|adder_filter_grad|...} {@code --count N}
 * runs only that op of that shape: a fixed 20 runs of warm-up, then exactly N runs; prints their wall and process CPU time. Instructions per op
 * are the difference of two such runs (e.g. N = 20 and N = 60) divided by {@code 40 * ops}: JVM start, JIT and
 * warm-up cancel ({@code scripts/bench-count} does this).
 */
public final class Bench {
    private record Shape(String net, ConvGeometry g) {
    }

    private static final List<Shape> SHAPES = List.of(
            new Shape("resnet20", new ConvGeometry(64, 16, 32, 32, 16, 3, 1, 1)),
            new Shape("resnet20", new ConvGeometry(64, 32, 16, 16, 32, 3, 1, 1)),
            new Shape("resnet20", new ConvGeometry(64, 64, 8, 8, 64, 3, 1, 1)),
            new Shape("lenet5bn", new ConvGeometry(256, 1, 28, 28, 6, 5, 1, 2)),
            new Shape("lenet5bn", new ConvGeometry(256, 6, 14, 14, 16, 5, 1, 0)),
            new Shape("lenet5bn", new ConvGeometry(256, 16, 5, 5, 120, 5, 1, 0)),
            new Shape("lenet5bn", new ConvGeometry(256, 120, 1, 1, 84, 1, 1, 0)),
            new Shape("lenet5bn", new ConvGeometry(256, 84, 1, 1, 10, 1, 1, 0)),
            // The 3x3 stride-1 shapes of ResNet-18's four stages at 224x224 input, batch 32 (opt in: --nets resnet18).
            new Shape("resnet18", new ConvGeometry(32, 64, 56, 56, 64, 3, 1, 1)),
            new Shape("resnet18", new ConvGeometry(32, 128, 28, 28, 128, 3, 1, 1)),
            new Shape("resnet18", new ConvGeometry(32, 256, 14, 14, 256, 3, 1, 1)),
            new Shape("resnet18", new ConvGeometry(32, 512, 7, 7, 512, 3, 1, 1)));

    private Bench() {
    }

    public static void main(String[] args) {
        int threads = 2, reps = 11;
        long warmupMs = 300;
        String kind = "auto", nets = "resnet20,lenet5bn", shape = null, only = null;
        int count = -1;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) throw new IllegalArgumentException("missing value after " + a);
            switch (a) {
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--kernels" -> kind = args[++i];
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--warmup-ms" -> warmupMs = Long.parseLong(args[++i]);
                case "--nets" -> nets = args[++i];
                case "--shape" -> shape = args[++i];
                case "--op" -> only = args[++i];
                case "--count" -> count = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + a
                        + " (--threads N, --kernels auto|vector|scalar, --reps R, --warmup-ms M, --nets a,b,"
                        + " --shape n,c,h,w,o --op NAME --count N)");
            }
        }
        if (reps < 1) throw new IllegalArgumentException("--reps must be >= 1");
        if (shape != null || only != null || count >= 0) {
            if (shape == null || only == null || count < 0) {
                throw new IllegalArgumentException("--shape, --op and --count (>= 0) go together");
            }
            countOnly(parseShape(shape), only, count, threads, kind);
            return;
        }
        List<String> wanted = Arrays.asList(nets.split(","));
        Map<String, Double> ratios = new LinkedHashMap<>();
        try (ThreadPool pool = new ThreadPool(threads)) {
            ConvEngine e = ConvEngines.create(pool, kind);
            System.err.println("bench: kernels " + e.kernelName() + ", " + threads + " threads, " + reps + " reps");
            // The Vector API code is hopeless until C2 has compiled it (C1 code boxes every vector), and the
            // first shape would pay for that: run every op of every shape once, for ~2 s, before timing.
            long start = System.nanoTime();
            while (System.nanoTime() - start < 2_000_000_000L) {
                for (Shape s : SHAPES) {
                    if (wanted.contains(s.net())) everyOp(e, s.g());
                }
            }
            for (Shape s : SHAPES) {
                if (!wanted.contains(s.net())) continue;
                double ratio = benchShape(e, s, threads, reps, warmupMs);
                ratios.put(s.g().toString(), ratio);
            }
        }
        StringBuilder sb = new StringBuilder("{\"op\":\"summary\",\"adder_over_conv_fwd_bwd\":{");
        int i = 0;
        for (Map.Entry<String, Double> r : ratios.entrySet()) {
            if (i++ > 0) sb.append(',');
            sb.append('"').append(r.getKey()).append("\":").append(fmt(r.getValue()));
        }
        System.out.println(sb.append("}}"));
    }

    /** Benchmarks all ops on one shape; returns adder fwd+bwd time over conv fwd+bwd time. */
    private static double benchShape(ConvEngine e, Shape s, int threads, int reps, long warmupMs) {
        ConvGeometry g = s.g();
        Rng r = new Rng(42);
        float[] xs = normal(r, g.inputSize(), 1.0), x = relu(xs);
        float[] w = normal(r, g.filterSize(), Math.sqrt(2.0 / g.kk())); // Kaiming, as the models initialize
        float[] dy = normal(r, g.outputSize(), 1.0);
        float[] y = new float[g.outputSize()], dx = new float[g.inputSize()], dw = new float[g.filterSize()];
        Map<String, double[]> ms = new LinkedHashMap<>();
        List<Object[]> ops = new ArrayList<>();
        ops.add(new Object[] {"adder_forward", 1, (Runnable) () -> e.adderForward(g, x, w, 0, y)});
        ops.add(new Object[] {"adder_forward_signed", 1, (Runnable) () -> e.adderForward(g, xs, w, 0, y)});
        ops.add(new Object[] {"adder_input_grad", 1, (Runnable) () -> e.adderBackward(g, x, w, 0, dy, dx, null, 0)});
        ops.add(new Object[] {"adder_filter_grad", 1, (Runnable) () -> e.adderBackward(g, x, w, 0, dy, null, dw, 0)});
        ops.add(new Object[] {"adder_fwd_bwd", 3, (Runnable) () -> {
            e.adderForward(g, x, w, 0, y);
            e.adderBackward(g, x, w, 0, dy, dx, dw, 0);
        }});
        ops.add(new Object[] {"conv_forward", 1, (Runnable) () -> e.convForward(g, x, w, 0, y)});
        ops.add(new Object[] {"conv_input_grad", 1, (Runnable) () -> e.convBackward(g, x, w, 0, dy, dx, null, 0)});
        ops.add(new Object[] {"conv_filter_grad", 1, (Runnable) () -> e.convBackward(g, x, w, 0, dy, null, dw, 0)});
        ops.add(new Object[] {"conv_fwd_bwd", 3, (Runnable) () -> {
            e.convForward(g, x, w, 0, y);
            e.convBackward(g, x, w, 0, dy, dx, dw, 0);
        }});
        for (Object[] op : ops) {
            String name = (String) op[0];
            int passes = (Integer) op[1];
            Runnable body = (Runnable) op[2];
            double t = medianMs(body, reps, warmupMs);
            // Gradients keep accumulating into dw across runs; reset so values stay at a realistic scale.
            Arrays.fill(dw, 0f);
            double gops = passes * (double) g.ops() / (t * 1e6);
            System.out.println(String.format(Locale.ROOT,
                    "{\"net\":\"%s\",\"shape\":\"%s\",\"op\":\"%s\",\"kernels\":\"%s\",\"threads\":%d,\"ms\":%s,\"gops\":%s}",
                    s.net(), g, name, e.kernelName(), threads, fmt(t), fmt(gops)));
            ms.put(name, new double[] {t});
        }
        double ratio = ms.get("adder_fwd_bwd")[0] / ms.get("conv_fwd_bwd")[0];
        System.out.println(String.format(Locale.ROOT,
                "{\"net\":\"%s\",\"shape\":\"%s\",\"op\":\"ratio_adder_over_conv_fwd_bwd\",\"kernels\":\"%s\",\"threads\":%d,\"ratio\":%s}",
                s.net(), g, e.kernelName(), threads, fmt(ratio)));
        System.out.flush();
        return ratio;
    }

    private static ConvGeometry parseShape(String v) {
        String[] f = v.split(",");
        if (f.length != 5 && f.length != 8) throw new IllegalArgumentException("--shape wants n,c,h,w,o or n,c,h,w,o,k,stride,pad: " + v);
        int[] a = new int[f.length];
        try {
            for (int i = 0; i < f.length; i++) a[i] = Integer.parseInt(f[i].trim());
        } catch (NumberFormatException ex) {
            throw new IllegalArgumentException("--shape wants integers: " + v);
        }
        return f.length == 5 ? new ConvGeometry(a[0], a[1], a[2], a[3], a[4], 3, 1, 1)
                : new ConvGeometry(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
    }

    /** The counting mode (see the class comment): 20 warm-up runs and {@code count} runs of one op. */
    private static void countOnly(ConvGeometry g, String op, int count, int threads, String kind) {
        Rng r = new Rng(42);
        float[] xs = normal(r, g.inputSize(), 1.0), x = relu(xs);
        float[] w = normal(r, g.filterSize(), Math.sqrt(2.0 / g.kk()));
        float[] dy = normal(r, g.outputSize(), 1.0);
        float[] y = new float[g.outputSize()], dx = new float[g.inputSize()], dw = new float[g.filterSize()];
        try (ThreadPool pool = new ThreadPool(threads)) {
            ConvEngine e = ConvEngines.create(pool, kind);
            Runnable body = switch (op) {
                case "adder_forward" -> () -> e.adderForward(g, x, w, 0, y);
                case "adder_forward_signed" -> () -> e.adderForward(g, xs, w, 0, y);
                case "adder_input_grad" -> () -> e.adderBackward(g, x, w, 0, dy, dx, null, 0);
                case "adder_filter_grad" -> () -> e.adderBackward(g, x, w, 0, dy, null, dw, 0);
                case "adder_backward" -> () -> e.adderBackward(g, x, w, 0, dy, dx, dw, 0);
                case "conv_forward" -> () -> e.convForward(g, x, w, 0, y);
                case "conv_input_grad" -> () -> e.convBackward(g, x, w, 0, dy, dx, null, 0);
                case "conv_filter_grad" -> () -> e.convBackward(g, x, w, 0, dy, null, dw, 0);
                default -> throw new IllegalArgumentException("--op: unknown op " + op + " (adder_forward, adder_forward_signed, adder_input_grad,"
                        + " adder_filter_grad, adder_backward, conv_forward, conv_input_grad, conv_filter_grad)");
            };
            for (int i = 0; i < 20; i++) body.run();
            Arrays.fill(dw, 0f);
            long c0 = EvalBench.processCpuNanos();
            long t0 = System.nanoTime();
            for (int i = 0; i < count; i++) body.run();
            double ms = (System.nanoTime() - t0) / 1e6;
            double cpuMs = c0 < 0 ? -1 : (EvalBench.processCpuNanos() - c0) / 1e6;
            System.out.println(String.format(Locale.ROOT,
                    "{\"shape\":\"%s\",\"op\":\"%s\",\"kernels\":\"%s\",\"threads\":%d,\"count\":%d,\"ops\":%d,\"ms\":%s,\"cpu_ms\":%s,"
                    + "\"gops_per_cpu_s\":%s}", g, op, e.kernelName(), threads, count, g.ops(), fmt(ms), fmt(cpuMs),
                    fmt(count * (double) g.ops() / (cpuMs * 1e6))));
        }
    }

    private static void everyOp(ConvEngine e, ConvGeometry g) {
        float[] x = new float[g.inputSize()], w = new float[g.filterSize()], y = new float[g.outputSize()];
        float[] dx = new float[g.inputSize()], dw = new float[g.filterSize()];
        e.adderForward(g, x, w, 0, y);
        e.adderBackward(g, x, w, 0, y, dx, dw, 0);
        e.convForward(g, x, w, 0, y);
        e.convBackward(g, x, w, 0, y, dx, dw, 0);
    }

    private static double medianMs(Runnable body, int reps, long warmupMs) {
        long start = System.nanoTime();
        int warm = 0;
        while (warm < 3 || System.nanoTime() - start < warmupMs * 1_000_000L) {
            body.run();
            warm++;
        }
        double[] t = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            body.run();
            t[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(t);
        return reps % 2 == 1 ? t[reps / 2] : (t[reps / 2 - 1] + t[reps / 2]) / 2;
    }

    /**
     * max(0, v) of each value: the input every adder layer but a network's first sees (a ReLU's output), which the
     * engine's 2-op adder forward takes ({@code adder_forward}); {@code adder_forward_signed} times the 3-op kernels
     * on the signed values.
     */
    private static float[] relu(float[] v) {
        float[] a = new float[v.length];
        for (int i = 0; i < v.length; i++) a[i] = v[i] > 0 ? v[i] : 0f;
        return a;
    }

    private static float[] normal(Rng r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextGaussian() * scale);
        return a;
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.4g", v);
    }
}
