package org.addernet.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.addernet.engine.Engine;
import org.addernet.engine.HandOffTrace;
import org.addernet.engine.Rng;
import org.addernet.engine.Tensor;
import org.addernet.layers.PassTimes;
import org.addernet.model.Model;
import org.addernet.model.Models;

/**
 * {@code bench-eval [--model resnet20] [--variant adder|cnn] [--batch 1,64] [--threads 2] [--seconds 3] [--kernels auto]
 * [--model-kind eval|train]}: eval-mode inference throughput, what an {@code evaluate}/{@code predict} task computes per
 * batch (eval BN applied in place, no gradient buffers, no backward state: {@link Models#createEval}), on random inputs.
 * One JSON object per batch size with the median batch time, images/s and {@code heap_after_gc_mb}, the heap after a
 * full GC right after the timed forwards (the model and everything it keeps between batches, the live set);
 * {@code --model-kind train} runs the same forwards on a training model (gradients, every layer's buffers), as eval
 * tasks did before eval-only models, for comparison; {@code scripts/bench-eval-torch.py} prints the same fields for PyTorch's eval of the CNN
 * twin ({@code torch.no_grad}) and {@code scripts/bench-eval} runs both side by side.
 *
 * <p>Load-independent fields next to the times: {@code dispatches_per_batch}, the parallel calls handed to the engine's
 * worker threads per forward ({@link org.addernet.engine.ThreadPool#dispatches}: each costs a wake-up and a join), and
 * {@code cpu_ms_per_batch}, the process CPU time per forward (on a quiet machine 2 threads should cost about what 1
 * does, at half the wall time; spinning waits show up here), next to the mean and 90th percentile batch times
 * ({@code ms_mean_per_batch}, {@code ms_p90_per_batch}): a CPU time above threads x mean is impossible, and a mean far
 * above the median means some forwards stalled (a descheduled thread holds up every barrier of its forward). {@code --profile} adds, per batch size, the per-layer
 * kernel table of {@code bench-step --profile} and the time of the passes outside the kernels, one forward averaged;
 * {@code --trace} adds, per batch size, where a forward's time goes between the threads ({@link HandOffTrace}: per
 * parallel call the wall span, each side's CPU work, the wake-up, the caller's wait and the serial gap before it).
 */
final class EvalBench {
    private EvalBench() {}

    /** Forwards recorded by {@code --trace} (after the timed ones). */
    static final int TRACED = 300;

    static void run(String[] args, PrintStream out) {
        String arch = "resnet20", variant = "adder", kernels = "auto", batches = "1,64", kind = "eval";
        boolean profile = false, trace = false;
        int threads = 2;
        double seconds = 3;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--profile")) {
                profile = true;
                continue;
            }
            if (a.equals("--trace")) {
                trace = true;
                continue;
            }
            if (i + 1 >= args.length) throw new IllegalArgumentException("missing value after " + a);
            switch (a) {
                case "--model" -> arch = args[++i];
                case "--variant" -> variant = args[++i];
                case "--batch" -> batches = args[++i];
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--kernels" -> kernels = args[++i];
                case "--model-kind" -> kind = args[++i];
                default -> throw new IllegalArgumentException("unknown option " + a + " (--model M, --variant adder|cnn, --batch N,N,...,"
                        + " --threads T, --seconds S, --kernels auto|vector|scalar, --model-kind eval|train, --profile, --trace)");
            }
        }
        if (!variant.equals("adder") && !variant.equals("cnn")) throw new IllegalArgumentException("--variant must be adder or cnn");
        if (!kind.equals("eval") && !kind.equals("train")) throw new IllegalArgumentException("--model-kind must be eval or train, got '" + kind + "'");
        if (threads < 1 || !(seconds > 0)) throw new IllegalArgumentException("need --threads >= 1 and --seconds > 0");
        int[] sizes = Arrays.stream(batches.split(",")).mapToInt(s -> Integer.parseInt(s.trim())).toArray();
        try (StepBench.HeapWatch heap = new StepBench.HeapWatch(); Engine base = Engine.create(threads, kernels)) {
            LayerProfile prof = profile ? new LayerProfile(base.conv()) : null;
            Engine engine = profile ? new Engine(base.pool(), prof) : base;
            Model m = kind.equals("eval") ? Models.createEval(arch, variant.equals("adder"), Models.defaultClasses(arch), 0, engine, 1)
                    : Models.create(arch, variant.equals("adder"), Models.defaultClasses(arch), engine, 1);
            int[] in = m.inputShape();
            Rng rng = new Rng(42);
            for (int batch : sizes) {
                if (batch < 1) throw new IllegalArgumentException("--batch sizes must be >= 1");
                Tensor x = new Tensor(batch, in[0], in[1], in[2]);
                for (int i = 0; i < x.size(); i++) x.data[i] = (float) rng.nextGaussian();
                m.forward(x, false); // warm-up: JIT, workspaces
                if (prof != null) {
                    prof.record(true);
                    PassTimes.reset();
                    PassTimes.record(true);
                }
                List<Double> ms = new ArrayList<>();
                long start = System.nanoTime(), cpu0 = processCpuNanos(), d0 = engine.pool().dispatches();
                double total = 0;
                while (ms.size() < 3 || (System.nanoTime() - start) / 1e9 < seconds) {
                    long t0 = System.nanoTime();
                    m.forward(x, false);
                    double t = (System.nanoTime() - t0) / 1e6;
                    ms.add(t);
                    total += t;
                }
                long cpu = cpu0 < 0 ? -1 : processCpuNanos() - cpu0, dispatches = engine.pool().dispatches() - d0;
                int reps = ms.size();
                if (prof != null) {
                    prof.record(false);
                    PassTimes.record(false);
                    out.printf(Locale.ROOT, "%s %s batch %d, %d threads: one forward (averages over %d)%n", arch, variant, batch, threads, reps);
                    prof.print(out, m.params(), 1, reps, total / 1e3, 0, LayerProfile.adderPeak(engine.pool(), 400));
                    prof.reset();
                }
                ms.sort(null);
                double med = ms.get(ms.size() / 2);
                long live = heap.fullGc();
                out.printf(Locale.ROOT, "{\"impl\":\"addernet\",\"model\":\"%s\",\"variant\":\"%s\",\"batch\":%d,\"threads\":%d,\"kernels\":\"%s\","
                                + "\"reps\":%d,\"ms_per_batch\":%.3f,\"images_per_s\":%.2f,\"model_kind\":\"%s\",\"heap_after_gc_mb\":%.1f,"
                                + "\"dispatches_per_batch\":%.1f,\"cpu_ms_per_batch\":%.3f,\"ms_mean_per_batch\":%.3f,\"ms_p90_per_batch\":%.3f}%n", arch,
                        variant, batch, threads, engine.conv().kernelName(), reps, med, batch * 1e3 / med, kind, live / 1e6,
                        (double) dispatches / reps, cpu < 0 ? -1.0 : cpu / 1e6 / reps, total / reps, ms.get((int) (0.9 * (reps - 1))));
                if (trace) {
                    // The hand-offs of TRACED forwards after the timed ones (the trace's clock reads cost a few us per call).
                    HandOffTrace tr = new HandOffTrace(threads, 1 << 16, TRACED + 1);
                    engine.pool().trace(tr);
                    for (int i = 0; i <= TRACED; i++) {
                        tr.forwardStart();
                        m.forward(x, false);
                        tr.forwardEnd();
                    }
                    engine.pool().trace(null);
                    out.printf(Locale.ROOT, "%s %s batch %d, %d threads: ", arch, variant, batch, threads);
                    tr.print(out);
                }
            }
        }
    }

    /** CPU time of this process (all threads), or -1 where the JVM does not report it. */
    static long processCpuNanos() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return -1;
    }
}
