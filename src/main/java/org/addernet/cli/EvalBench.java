package org.addernet.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.addernet.engine.Engine;
import org.addernet.engine.Rng;
import org.addernet.engine.Tensor;
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
 */
final class EvalBench {
    private EvalBench() {}

    static void run(String[] args, PrintStream out) {
        String arch = "resnet20", variant = "adder", kernels = "auto", batches = "1,64", kind = "eval";
        int threads = 2;
        double seconds = 3;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
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
                        + " --threads T, --seconds S, --kernels auto|vector|scalar, --model-kind eval|train)");
            }
        }
        if (!variant.equals("adder") && !variant.equals("cnn")) throw new IllegalArgumentException("--variant must be adder or cnn");
        if (!kind.equals("eval") && !kind.equals("train")) throw new IllegalArgumentException("--model-kind must be eval or train, got '" + kind + "'");
        if (threads < 1 || !(seconds > 0)) throw new IllegalArgumentException("need --threads >= 1 and --seconds > 0");
        int[] sizes = Arrays.stream(batches.split(",")).mapToInt(s -> Integer.parseInt(s.trim())).toArray();
        try (StepBench.HeapWatch heap = new StepBench.HeapWatch(); Engine engine = Engine.create(threads, kernels)) {
            Model m = kind.equals("eval") ? Models.createEval(arch, variant.equals("adder"), Models.defaultClasses(arch), 0, engine, 1)
                    : Models.create(arch, variant.equals("adder"), Models.defaultClasses(arch), engine, 1);
            int[] in = m.inputShape();
            Rng rng = new Rng(42);
            for (int batch : sizes) {
                if (batch < 1) throw new IllegalArgumentException("--batch sizes must be >= 1");
                Tensor x = new Tensor(batch, in[0], in[1], in[2]);
                for (int i = 0; i < x.size(); i++) x.data[i] = (float) rng.nextGaussian();
                m.forward(x, false); // warm-up: JIT, workspaces
                List<Double> ms = new ArrayList<>();
                long start = System.nanoTime();
                while (ms.size() < 3 || (System.nanoTime() - start) / 1e9 < seconds) {
                    long t0 = System.nanoTime();
                    m.forward(x, false);
                    ms.add((System.nanoTime() - t0) / 1e6);
                }
                ms.sort(null);
                double med = ms.get(ms.size() / 2);
                long live = heap.fullGc();
                out.printf(Locale.ROOT, "{\"impl\":\"addernet\",\"model\":\"%s\",\"variant\":\"%s\",\"batch\":%d,\"threads\":%d,\"kernels\":\"%s\","
                                + "\"reps\":%d,\"ms_per_batch\":%.3f,\"images_per_s\":%.2f,\"model_kind\":\"%s\",\"heap_after_gc_mb\":%.1f}%n", arch,
                        variant, batch, threads, engine.conv().kernelName(), ms.size(), med, batch * 1e3 / med, kind, live / 1e6);
            }
        }
    }
}
