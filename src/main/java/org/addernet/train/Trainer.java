package org.addernet.train;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.addernet.data.BatchAssembler;
import org.addernet.data.Datasets;
import org.addernet.data.ImageDataset;
import org.addernet.data.Sampler;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Tensor;
import org.addernet.layers.SoftmaxCrossEntropy;
import org.addernet.model.Checkpoint;
import org.addernet.model.Model;
import org.addernet.model.Models;

/**
 * The single-process trainer: epochs of synchronous SGD steps on one engine, evaluation, metrics and
 * checkpoints. With {@code emulate_workers = W} each global batch is split into the W shards that W
 * data-parallel workers would train on (same sampling, BN statistics per shard, running statistics averaged
 * weighted by shard size), so that a distributed run can be checked against this one (DESIGN.md §4).
 */
public final class Trainer implements AutoCloseable {
    /** One line of {@code metrics.jsonl}. */
    public record EpochMetrics(int epoch, int epochs, int steps, double lr, double trainLoss, double trainAcc,
                               double testLoss, double testAcc, double imagesPerS, double seconds, double evalSeconds) {
        public String toJson() {
            return String.format(Locale.ROOT,
                    "{\"epoch\":%d,\"epochs\":%d,\"steps\":%d,\"lr\":%.6g,\"train_loss\":%.6f,\"train_acc\":%.6f,"
                            + "\"test_loss\":%.6f,\"test_acc\":%.6f,\"images_per_s\":%.1f,\"seconds\":%.3f,\"eval_seconds\":%.3f}",
                    epoch, epochs, steps, lr, trainLoss, trainAcc, testLoss, testAcc, imagesPerS, seconds, evalSeconds);
        }
    }

    /** Loss and accuracy over a dataset in eval mode. */
    public record Evaluation(double loss, double accuracy, int count) {}

    private final Config cfg;
    private final Path out;
    private final PrintStream log;
    private final Engine engine;
    private final Model model;
    private final Sgd sgd;
    private final Sampler sampler;
    private final BatchAssembler trainData, testData;
    private final LrSchedule schedule;
    private final int epochs, workers, logEvery;
    private final boolean perWorkerScaling;
    private final ShardStep shardStep;
    private int startEpoch;
    private float[] x = new float[0];
    private int[] y = new int[0];

    public Trainer(Config cfg, Path out, PrintStream log) throws IOException {
        this.cfg = cfg;
        this.out = out;
        this.log = log;
        Datasets.Spec spec = Datasets.spec(cfg.get("dataset"));
        Path dataDir = Path.of(cfg.get("data_dir"));
        ImageDataset train = limit(Datasets.open(spec.name(), dataDir, true), cfg.getInt("train_limit"));
        ImageDataset test = limit(Datasets.open(spec.name(), dataDir, false), cfg.getInt("test_limit"));
        long seed = Long.parseLong(cfg.get("seed"));
        boolean augment = switch (cfg.get("augment")) {
            case "default" -> spec.augmentation() == Datasets.Augmentation.CIFAR;
            case "cifar" -> true;
            case "none" -> false;
            default -> throw new IllegalArgumentException("config key 'augment' must be default, none or cifar, got '" + cfg.get("augment") + "'");
        };
        this.trainData = new BatchAssembler(train, spec.mean(), spec.std(), augment, seed);
        this.testData = new BatchAssembler(test, spec.mean(), spec.std(), false, seed);
        int threads = cfg.getInt("threads");
        this.engine = Engine.create(threads > 0 ? threads : Runtime.getRuntime().availableProcessors(), cfg.get("kernels"));
        String variant = cfg.get("variant");
        if (!variant.equals("adder") && !variant.equals("cnn")) {
            throw new IllegalArgumentException("config key 'variant' must be adder or cnn, got '" + variant + "'");
        }
        this.model = Models.create(cfg.get("model"), variant.equals("adder"), spec.numClasses(), engine, seed);
        int[] in = model.inputShape();
        if (in[0] != spec.channels() || in[1] != spec.height() || in[2] != spec.width()) {
            throw new IllegalArgumentException("model " + model.name() + " takes " + in[0] + "x" + in[1] + "x" + in[2]
                    + " inputs but dataset " + spec.name() + " has " + spec.channels() + "x" + spec.height() + "x" + spec.width());
        }
        this.sgd = new Sgd(model.params().size(), cfg.getDouble("momentum"), cfg.getDouble("weight_decay"),
                cfg.getBoolean("nesterov"), cfg.getDouble("eta"));
        this.workers = cfg.getInt("emulate_workers");
        if (workers < 1) throw new IllegalArgumentException("config key 'emulate_workers' must be >= 1");
        this.sampler = new Sampler(train.count(), workers, cfg.getInt("batch_size"), seed);
        this.epochs = cfg.getInt("epochs");
        this.schedule = new LrSchedule(cfg.get("lr_schedule"), cfg.getDouble("lr"), epochs, sampler.stepsPerEpoch(),
                cfg.getInts("lr_milestones"), cfg.getDouble("lr_gamma"), cfg.getInt("warmup_epochs"));
        this.logEvery = Math.max(1, cfg.getInt("log_every"));
        this.shardStep = new ShardStep(model, trainData, engine.pool());
        this.perWorkerScaling = switch (cfg.get("adaptive_scaling")) {
            case "global" -> false;
            case "per_worker" -> true;
            default -> throw new IllegalArgumentException("config key 'adaptive_scaling' must be global or per_worker, got '"
                    + cfg.get("adaptive_scaling") + "'");
        };
        log.printf(Locale.ROOT, "model %s: %d parameters; %s: %d train / %d test images; %d steps/epoch of batch %d (%d shard%s); %s kernels, %d threads%n",
                model.name(), model.params().size(), spec.name(), train.count(), test.count(), sampler.stepsPerEpoch(),
                sampler.globalBatch(), workers, workers > 1 ? "s" : "", engine.conv().kernelName(), engine.pool().threads());
    }

    private static ImageDataset limit(ImageDataset d, int n) {
        if (n < 0) throw new IllegalArgumentException("train_limit/test_limit must be >= 0");
        return n == 0 || n >= d.count() ? d : d.subset(0, n);
    }

    public Model model() { return model; }
    public Sgd optimizer() { return sgd; }

    /** Continues from a checkpoint written by {@link #run}: weights, BN buffers, momentum, epoch. */
    public void resume(Path checkpoint) throws IOException {
        Checkpoint c = Checkpoint.read(checkpoint);
        c.restoreInto(model, checkpoint.toString());
        Checkpoint.Entry mom = c.tensors().get(Checkpoint.MOMENTUM);
        if (mom == null) throw new IOException(checkpoint + " has no optimizer state");
        sgd.restore(mom.values(), Long.parseLong(c.meta().getOrDefault("optimizer_steps", "0")));
        startEpoch = Integer.parseInt(c.meta().getOrDefault("epoch", "0"));
        log.printf(Locale.ROOT, "resumed from %s after epoch %d%n", checkpoint, startEpoch);
    }

    /** Trains the remaining epochs, appending to {@code out/metrics.jsonl}; returns the last epoch's metrics. */
    public EpochMetrics run() throws IOException {
        Files.createDirectories(out);
        Path metrics = out.resolve("metrics.jsonl");
        if (startEpoch == 0) Files.deleteIfExists(metrics);
        EpochMetrics last = null;
        for (int e = startEpoch; e < epochs; e++) {
            last = trainEpoch(e);
            try (Writer w = Files.newBufferedWriter(metrics, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
                w.write(last.toJson());
                w.write('\n');
            }
            log.printf(Locale.ROOT, "epoch %d/%d: train loss %.4f acc %.4f | test loss %.4f acc %.4f | %.0f images/s, %.1f s (+%.1f s eval)%n",
                    e + 1, epochs, last.trainLoss(), last.trainAcc(), last.testLoss(), last.testAcc(), last.imagesPerS(),
                    last.seconds(), last.evalSeconds());
            if (cfg.getBoolean("checkpoint")) checkpoint(e + 1).writeAtomic(out.resolve("checkpoint.ckpt"));
        }
        return last;
    }

    Checkpoint checkpoint(int epochsDone) {
        Map<String, String> meta = new TreeMap<>();
        meta.put("epoch", Integer.toString(epochsDone));
        meta.put("optimizer_steps", Long.toString(sgd.steps()));
        meta.put("format", "addernet-checkpoint");
        for (Map.Entry<String, String> e : cfg.asMap().entrySet()) meta.put("config." + e.getKey(), e.getValue());
        return Checkpoint.of(model, sgd.momentumBuffer(), meta);
    }

    private EpochMetrics trainEpoch(int epoch) {
        int steps = sampler.stepsPerEpoch();
        double lossSum = 0;
        long correct = 0, seen = 0;
        long t0 = System.nanoTime();
        double lr = 0;
        for (int s = 0; s < steps; s++) {
            lr = schedule.lr(epoch, s);
            StepAggregate r = step(epoch, s, lr);
            lossSum += r.lossSum();
            correct += r.correct();
            seen += r.count();
            if ((s + 1) % logEvery == 0 || s + 1 == steps) {
                double secs = (System.nanoTime() - t0) / 1e9;
                double ips = seen / secs;
                double eta = (steps - s - 1) * secs / (s + 1);
                log.printf(Locale.ROOT, "epoch %d/%d step %d/%d  loss %.4f  acc %.4f  lr %.5f  %.0f images/s  ETA %s%n",
                        epoch + 1, epochs, s + 1, steps, lossSum / seen, (double) correct / seen, lr, ips, formatSeconds(eta));
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        long t1 = System.nanoTime();
        Evaluation ev = evaluate(testData);
        double evalSeconds = (System.nanoTime() - t1) / 1e9;
        return new EpochMetrics(epoch + 1, epochs, steps, lr, lossSum / seen, (double) correct / seen, ev.loss(), ev.accuracy(),
                seen / seconds, seconds, evalSeconds);
    }

    /** One global step: every emulated worker's {@link ShardStep}, their {@link StepAggregate}, the update. */
    StepAggregate step(int epoch, int step, double lr) {
        int[][] shards = new int[workers][];
        int global = 0;
        for (int w = 0; w < workers; w++) {
            shards[w] = sampler.indices(epoch, w, step);
            global += shards[w].length;
        }
        Params p = model.params();
        float[] buffersAtStart = workers > 1 ? p.buffers.clone() : null;
        StepAggregate agg = new StepAggregate();
        for (int w = 0; w < workers; w++) {
            if (buffersAtStart != null) System.arraycopy(buffersAtStart, 0, p.buffers, 0, buffersAtStart.length);
            agg.add(shardStep.run(shards[w], epoch, global, perWorkerScaling ? sgd.eta() : 0));
        }
        agg.apply(model, sgd, lr, perWorkerScaling, String.format(Locale.ROOT, "epoch %d step %d (last checkpoint kept in %s)",
                epoch + 1, step + 1, out));
        return agg;
    }

    /** Fills the reusable batch buffers with the given samples and wraps them as a tensor. */
    private Tensor batch(BatchAssembler data, int epoch, int[] indices) {
        int n = indices.length, s = data.sampleSize();
        if (x.length != n * s) x = new float[n * s];
        if (y.length != n) y = new int[n];
        data.fill(epoch, indices, 0, n, x, y, engine.pool());
        int[] in = model.inputShape();
        return new Tensor(n, in[0], in[1], in[2], x);
    }

    /** Eval-mode loss and top-1 accuracy over a whole dataset. */
    public Evaluation evaluate(BatchAssembler data) {
        int count = data.data().count();
        int bs = Math.max(1, cfg.getInt("eval_batch_size"));
        double lossSum = 0;
        long correct = 0;
        for (int from = 0; from < count; from += bs) {
            int n = Math.min(bs, count - from);
            int[] idx = new int[n];
            for (int i = 0; i < n; i++) idx[i] = from + i;
            Tensor logits = model.forward(batch(data, 0, idx), false);
            SoftmaxCrossEntropy.Result r = SoftmaxCrossEntropy.evaluate(logits, y);
            lossSum += r.lossSum();
            correct += r.correct();
        }
        return new Evaluation(lossSum / count, (double) correct / count, count);
    }

    private static String formatSeconds(double s) {
        long t = Math.round(s);
        return String.format(Locale.ROOT, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
    }

    @Override
    public void close() {
        engine.close();
    }
}
