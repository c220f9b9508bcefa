package org.addernet.train;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.addernet.data.Sampler;
import org.addernet.data.Samples;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Tensor;
import org.addernet.model.Model;

/**
 * Training in one JVM on the engine alone (no Spark): {@code addernet train --single-process}. With
 * {@code emulate_workers = W} every global batch is split into the W shards that W data-parallel workers would
 * train on (the same {@link Sampler} partitions, BN statistics per shard, running statistics averaged weighted by
 * shard size, results summed in the Spark job's {@link TreeOrder}): a Spark run with W partitions reaches the
 * same weights bit for bit.
 */
public final class SingleProcess implements AutoCloseable {
    private final Engine engine;
    private final Trainer trainer;

    public SingleProcess(Recipe recipe, RunFiles files, PrintStream log) throws IOException {
        int workers = recipe.config.getInt("emulate_workers");
        if (workers < 1) throw new IllegalArgumentException("config key 'emulate_workers' must be >= 1");
        this.engine = Engine.create(recipe.threads(Runtime.getRuntime().availableProcessors()), recipe.config.get("kernels"));
        Recipe.LocalData data;
        try {
            data = recipe.localData(workers, engine.pool(), log);
        } catch (IOException | RuntimeException e) {
            engine.close();
            throw e;
        }
        if (data.classes() != null) files.writeText(Trainer.CLASSES, String.join("\n", data.classes()) + "\n");
        Model model = recipe.model(engine, data.numClasses());
        Sampler sampler = recipe.sampler(data.shardSizes());
        List<Samples> shards = data.trainShards();
        Samples testData = data.test();
        ShardStep shardStep = new ShardStep(model, engine.pool(), engine.conv().kernelName(), recipe.microBatch);
        double perWorkerEta = recipe.perWorkerScaling ? recipe.config.getDouble("eta") : 0;
        int treeDepth = recipe.config.getInt("tree_depth");
        boolean bf16 = recipe.bf16Wire;
        // Per-step snapshots, allocated once (ResNet-50's weights are ~100 MB).
        float[] buffersAtStart = workers > 1 ? new float[model.params().buffers.length] : null;
        float[] master = bf16 ? new float[model.params().data.length] : null;
        Trainer.StepRunner steps = (epoch, step) -> {
            int global = sampler.globalBatchAt(step);
            Params p = model.params();
            if (buffersAtStart != null) System.arraycopy(p.buffers, 0, buffersAtStart, 0, buffersAtStart.length);
            // wire=bf16, as the sharded step does it: the workers compute with the bf16-rounded master weights and
            // send bf16-rounded gradients; the sums, the update and the master weights stay fp32.
            if (bf16) {
                System.arraycopy(p.data, 0, master, 0, master.length);
                Bf16.round(p.data, 0, p.data.length);
            }
            List<StepAggregate> parts = new ArrayList<>();
            try {
                for (int w = 0; w < workers; w++) {
                    // Every worker starts the step from the same BN running statistics.
                    if (buffersAtStart != null) System.arraycopy(buffersAtStart, 0, p.buffers, 0, buffersAtStart.length);
                    ShardStep.Result r = shardStep.run(shards.get(w), sampler.indices(epoch, w, step), epoch, global, perWorkerEta);
                    if (bf16) Bf16.round(r.grad(), 0, r.grad().length);
                    parts.add(new StepAggregate().add(r));
                }
            } finally {
                if (bf16) System.arraycopy(master, 0, p.data, 0, master.length);
            }
            return TreeOrder.merge(parts, treeDepth, StepAggregate::merge);
        };
        Trainer.Evaluator eval = () -> evaluate(model, testData, recipe.evalBatchSize, engine);
        this.trainer = new Trainer(recipe, model, recipe.sgd(model.params().size()), sampler.stepsPerEpoch(), steps, eval, files, log);
        // Norms summed over the slices a sharded W-worker run cuts: every mode of a W-worker run gets the same bits.
        trainer.optimizer().sliceNorms(workers);
        log.printf(Locale.ROOT, "single process: %s, %d parameters; %s: %d train / %d test images; %d steps/epoch of batch %d (%d emulated worker%s); %s kernels, %d threads%n",
                model.name(), model.params().size(), recipe.spec.name(), sampler.size(), testData.count(), sampler.stepsPerEpoch(),
                recipe.batchSize, workers, workers > 1 ? "s" : "", engine.conv().kernelName(), engine.pool().threads());
    }

    public Trainer trainer() {
        return trainer;
    }

    /** Eval-mode loss, top-1/top-5 and per-class counts over every sample of {@code data}, in batches. */
    public static EvalStats evaluate(Model model, Samples data, int batchSize, Engine engine) {
        int count = data.count(), bs = Math.max(1, Math.min(batchSize, Math.max(count, 1)));
        EvalStats stats = new EvalStats(model.classes());
        int[] in = model.inputShape();
        float[] x = new float[bs * data.sampleSize()];
        int[] y = new int[bs], idx = new int[bs];
        for (int from = 0; from < count; from += bs) {
            int n = Math.min(bs, count - from);
            if (n < bs) { // the last, smaller batch: tensors must be exactly n samples
                x = new float[n * data.sampleSize()];
                y = new int[n];
            }
            for (int i = 0; i < n; i++) idx[i] = from + i;
            data.fill(0, idx, 0, n, x, y, engine.pool());
            stats.add(model.forward(new Tensor(n, in[0], in[1], in[2], x), false), y);
        }
        return stats;
    }

    @Override
    public void close() {
        engine.close();
    }
}
