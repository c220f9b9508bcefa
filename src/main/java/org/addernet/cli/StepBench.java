package org.addernet.cli;

import com.sun.management.GarbageCollectionNotificationInfo;
import com.sun.management.GcInfo;
import java.io.PrintStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.ListenerNotFoundException;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Rng;
import org.addernet.engine.Tensor;
import org.addernet.layers.Costs;
import org.addernet.layers.PassTimes;
import org.addernet.layers.SoftmaxCrossEntropy;
import org.addernet.model.Model;
import org.addernet.model.Models;
import org.addernet.train.Sgd;

/**
 * {@code bench-step [--model resnet18] [--variant adder|cnn] [--batch 32] [--size 224] [--threads 2] [--steps 3]
 * [--classes K] [--kernels auto] [--profile] [--mark-steps]}: whole training steps (forward, loss, backward, adaptive scaling, SGD with
 * momentum) on random data in this JVM, as one worker runs them, and the heap they need.
 *
 * <p>Prints the time and images/s of each step, then the heap: the largest heap occupancy right after a
 * garbage collection (from GC notifications, summed over the heap pools; the live data, as close as the JVM
 * reports it), the occupancy after a full GC at the end (everything the trainer keeps from step to step), and
 * the sum of the heap pools' peak usage (garbage included, so it grows with {@code -Xmx}). Next to them the
 * arithmetic from the model definition: parameters + gradients + momentum, BN buffers, and the activations the
 * backward pass must keep at this batch size ({@link Model#describe}), with the ratio measured/arithmetic.
 *
 * <p>{@code --profile} adds a per-layer table ({@link LayerProfile}) over the second half of the steps (at least the
 * last one; the first steps still run code C2 has not compiled yet, and an average over them was ~2x the later
 * steps at batch 256): forward and
 * backward time of every adder/conv layer, its G-ops/s and percentage of the adder peak measured in the same JVM,
 * then the step split into kernels, optimizer and the rest (BN, ReLU, pooling, residual sums, loss).
 *
 * <p>{@code --mark-steps} prints "jit-mark step N begin|end MS cpu MS thread-cpu MS kinds ..." lines (JVM uptime, process and
 * calling-thread CPU time in ms, then on Linux the CPU ms of the compute, C2, C1 and GC threads and the page faults,
 * {@link ThreadCpu}; the clock of
 * {@code -XX:+PrintCompilation}'s first column) to standard error, which is unbuffered like the compilation log
 * (the JVM's tty), so {@code scripts/jit-timeline} can attribute every compile and deoptimization to a step, and
 * {@code scripts/bench-warmup} can set each step's compute CPU against the compilers' (they share the same cores).
 */
public final class StepBench {
    private StepBench() {}

    public static void main(String[] args) {
        run(args, System.out);
    }

    public static void run(String[] args, PrintStream out) {
        String arch = "resnet18", variant = "adder", kernels = "auto";
        int batch = 32, size = 0, threads = 2, steps = 3, classes = 0;
        boolean profile = false, marks = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--profile")) {
                profile = true;
                continue;
            }
            if (a.equals("--mark-steps")) {
                marks = true;
                continue;
            }
            if (i + 1 >= args.length) throw new IllegalArgumentException("missing value after " + a);
            switch (a) {
                case "--model" -> arch = args[++i];
                case "--variant" -> variant = args[++i];
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--size" -> size = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--classes" -> classes = Integer.parseInt(args[++i]);
                case "--kernels" -> kernels = args[++i];
                default -> throw new IllegalArgumentException("unknown option " + a + " (--model M, --variant adder|cnn, --batch N,"
                        + " --size S, --threads T, --steps S, --classes K, --kernels auto|vector|scalar, --profile, --mark-steps)");
            }
        }
        if (!variant.equals("adder") && !variant.equals("cnn")) throw new IllegalArgumentException("--variant must be adder or cnn");
        if (batch < 2 || steps < 1 || threads < 1) throw new IllegalArgumentException("need --batch >= 2, --steps >= 1, --threads >= 1");
        if (classes == 0) classes = Models.defaultClasses(arch);
        try (HeapWatch heap = new HeapWatch(); Engine base = Engine.create(threads, kernels)) {
            LayerProfile prof = profile ? new LayerProfile(base.conv()) : null;
            Engine engine = profile ? new Engine(base.pool(), prof) : base;
            Model m = Models.create(arch, variant.equals("adder"), classes, size, engine, 1);
            Params p = m.params();
            int[] in = m.inputShape();
            PassTimes.reset();
            out.printf(Locale.ROOT, "bench-step %s, input %dx%dx%d, %d classes, batch %d, %d threads, kernels %s, max heap %.0f MB%n",
                    m.name(), in[0], in[1], in[2], classes, batch, threads, engine.conv().kernelName(),
                    Runtime.getRuntime().maxMemory() / 1e6);
            Rng rng = new Rng(42);
            Tensor x = new Tensor(batch, in[0], in[1], in[2]);
            for (int i = 0; i < x.size(); i++) x.data[i] = (float) rng.nextGaussian();
            int[] labels = new int[batch];
            for (int i = 0; i < batch; i++) labels[i] = rng.nextInt(classes);
            Sgd sgd = new Sgd(p.size(), 0.9, 1e-4, false, 0.2);
            double profiledSeconds = 0, optimizerSeconds = 0;
            final int firstRecorded = Math.max(1, steps / 2); // 0-based: the JIT's warm-up steps are not profiled
            for (int s = 0; s < steps; s++) {
                boolean recorded = prof != null && s >= firstRecorded;
                if (prof != null) prof.record(recorded);
                PassTimes.record(recorded);
                if (marks) mark(s + 1, "begin");
                long t0 = System.nanoTime();
                p.zeroGrad();
                SoftmaxCrossEntropy.Result r = m.trainShard(x, labels, 1f / batch);
                long t1 = System.nanoTime();
                sgd.step(p, 0.1);
                m.setNumBatchesTracked(m.numBatchesTracked() + 1);
                long t2 = System.nanoTime();
                if (marks) mark(s + 1, "end");
                double sec = (t2 - t0) / 1e9;
                if (recorded) {
                    profiledSeconds += sec;
                    optimizerSeconds += (t2 - t1) / 1e9;
                }
                out.printf(Locale.ROOT, "step %d: %.2f s, %.2f images/s, loss %.4f, gradient buffers %s%n", s + 1, sec, batch / sec,
                        r.lossSum() / batch, mb(m.gradientBufferBytes()));
            }
            PassTimes.record(false);
            if (prof != null) {
                if (steps < 2) throw new IllegalArgumentException("--profile needs --steps >= 2 (the first half of the steps is not recorded)");
                prof.record(false);
                prof.print(out, p, firstRecorded + 1, steps, profiledSeconds, optimizerSeconds, LayerProfile.adderPeak(engine.pool(), 400));
            }
            long afterRun = heap.maxAfterGc();
            int gcsInRun = heap.collections();
            long atEnd = heap.fullGc();
            long peakPools = heap.peakPoolsSum();

            Costs costs = m.describe();
            long paramBytes = 4L * p.size(), bufferBytes = 4L * p.buffers.length, perImage = costs.keptBytesPerSample();
            long activationBytes = perImage * batch, arithmetic = 3 * paramBytes + bufferBytes + activationBytes;
            out.printf(Locale.ROOT, "arithmetic: parameters %,d x 4 B = %s, gradients %s, momentum %s, BN buffers %s,%n", p.size(),
                    mb(paramBytes), mb(paramBytes), mb(paramBytes), mb(bufferBytes));
            out.printf(Locale.ROOT, "  activations kept for backward %,d B per image x %d = %s; total %s (x1.5 = %s)%n", perImage,
                    batch, mb(activationBytes), mb(arithmetic), mb(arithmetic * 3 / 2));
            out.printf(Locale.ROOT, "heap: max after GC during the steps %s (%d GCs)%s; after a full GC at the end %s; "
                    + "sum of pool peaks %s%n", mb(afterRun), gcsInRun, gcsInRun == 0 ? " [no GC ran]" : "", mb(atEnd), mb(peakPools));
            long peak = Math.max(afterRun, atEnd);
            out.printf(Locale.ROOT, "peak heap after GC %s = %.2f x arithmetic; of which activation-gradient buffers %s%n", mb(peak),
                    (double) peak / arithmetic, mb(m.gradientBufferBytes()));
        }
    }

    /**
     * A step boundary on stderr: JVM uptime (the clock of -XX:+PrintCompilation), the process's CPU time and this
     * thread's, in ms. CPU time depends less on other load than wall time does; with --threads 1 the whole step runs
     * on this thread and its CPU time excludes the compiler threads, GC and the pool's spin-waits.
     */
    private static void mark(int step, String what) {
        long cpu = EvalBench.processCpuNanos();
        if (cpu > 0) cpu /= 1_000_000;
        System.err.println("jit-mark step " + step + " " + what + " " + ManagementFactory.getRuntimeMXBean().getUptime() + " cpu " + cpu
                + " thread-cpu " + ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime() / 1_000_000 + threadCpu());
    }

    /** " kinds compute=MS c2=MS c1=MS gc=MS other=MS minflt=N majflt=N" ({@link ThreadCpu}), or "" off Linux. */
    private static String threadCpu() {
        StringBuilder b = new StringBuilder();
        ThreadCpu.sample().forEach((k, v) -> b.append(b.length() == 0 ? " kinds " : " ").append(k).append('=').append(v));
        return b.toString();
    }

    static String mb(long bytes) {
        return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
    }

    /** Heap occupancy after each GC, from the collectors' notifications. */
    static final class HeapWatch implements AutoCloseable {
        private final Set<String> heapPools = new HashSet<>();
        private final AtomicLong maxAfterGc = new AtomicLong();
        private final AtomicLong lastAfterGc = new AtomicLong();
        private final AtomicInteger collections = new AtomicInteger();
        private final List<NotificationEmitter> emitters = new ArrayList<>();
        private final NotificationListener listener = (n, handback) -> {
            if (!n.getType().equals(GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) return;
            GcInfo info = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData()).getGcInfo();
            long used = 0;
            for (Map.Entry<String, MemoryUsage> e : info.getMemoryUsageAfterGc().entrySet()) {
                if (heapPools.contains(e.getKey())) used += e.getValue().getUsed();
            }
            maxAfterGc.accumulateAndGet(used, Math::max);
            lastAfterGc.set(used);
            collections.incrementAndGet();
        };

        HeapWatch() {
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                if (pool.getType() == MemoryType.HEAP) {
                    heapPools.add(pool.getName());
                    pool.resetPeakUsage();
                }
            }
            for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
                if (gc instanceof NotificationEmitter e) {
                    e.addNotificationListener(listener, null, null);
                    emitters.add(e);
                }
            }
        }

        long maxAfterGc() {
            return maxAfterGc.get();
        }

        int collections() {
            return collections.get();
        }

        /** Runs a full GC and returns the heap occupancy after it (notifications arrive on another thread). */
        long fullGc() {
            int before = collections.get();
            System.gc();
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (collections.get() == before && System.nanoTime() < deadline) {
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            return lastAfterGc.get();
        }

        long peakPoolsSum() {
            long s = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                if (pool.getType() == MemoryType.HEAP) s += pool.getPeakUsage().getUsed();
            }
            return s;
        }

        @Override
        public void close() {
            for (NotificationEmitter e : emitters) {
                try {
                    e.removeNotificationListener(listener);
                } catch (ListenerNotFoundException ignored) {
                    // never added: nothing to remove
                }
            }
        }
    }
}
