package org.addernet.train;

import org.addernet.data.Samples;
import org.addernet.engine.Params;
import org.addernet.engine.ThreadPool;
import org.addernet.engine.Tensor;
import org.addernet.layers.SoftmaxCrossEntropy;
import org.addernet.model.Model;

/**
 * One worker's share of a global step (DESIGN.md §4), the unit of work of a Spark task and of each emulated
 * worker of the single-process trainer: forward/backward on the worker's samples with BN statistics of this
 * shard, returning the <em>sum</em> of its per-sample gradients (scaled by {@code 1/B_global}, so that the sum
 * over workers is the gradient of the global mean loss), its BN running statistics after the update times its
 * sample count (the driver divides the sum by {@code B}: a shard-size-weighted average), its summed loss and
 * its correct count. The model's weights and buffers must hold the step's starting values on entry; the
 * buffers are left updated by this shard.
 *
 * <p><b>Micro-batches</b> ({@code micro_batch = m > 0}): the share of n samples runs as k = ceil(n / m) consecutive
 * micro-batches of near-equal size (n / k rounded, the larger ones first, so at most m and, for m >= 3, never a
 * single sample while n >= 2), each a forward and a backward whose gradient is <em>added</em> into
 * {@code params().grad} (every layer accumulates; still scaled by {@code 1/B_global}, so the loss stays the mean
 * over the global batch). This is PyTorch's gradient-accumulation loop ({@code loss.backward()} per chunk, one
 * {@code optimizer.step()}): BN normalizes each micro-batch with its own statistics and moves its running
 * statistics once per micro-batch (k momentum updates per step). Without BN the result is the one-batch gradient
 * up to float summation order; with BN it is a different (smaller-batch) estimator, as in PyTorch. Activation
 * memory and the input batch then scale with m, not with the share. {@code num_batches_tracked} still counts
 * optimizer steps, not the k forwards PyTorch's loop would count (docs/DESIGN-NOTES.md).
 */
public final class ShardStep {
    /**
     * What a worker sends back for one step: fresh arrays, in the model's layouts, and the name of the kernel set
     * that computed them (e.g. {@code vector-16}: results depend on the vector width).
     */
    public record Result(float[] grad, double[] weightedBuffers, int count, double lossSum, long correct, String kernels) {}

    private final Model model;
    private final ThreadPool pool;
    private final String kernels;
    private final int microBatch;
    private float[] x = new float[0];
    private int[] y = new int[0];

    /** The whole share in one forward/backward. */
    public ShardStep(Model model, ThreadPool pool, String kernels) {
        this(model, pool, kernels, 0);
    }

    /**
     * {@code kernels}: the engine's kernel set ({@code ConvEngine.kernelName()}), reported with every result;
     * {@code microBatch}: at most this many samples per forward/backward (0 = the whole share at once).
     */
    public ShardStep(Model model, ThreadPool pool, String kernels, int microBatch) {
        if (microBatch < 0) throw new IllegalArgumentException("micro_batch must be >= 0, got " + microBatch);
        this.model = model;
        this.pool = pool;
        this.kernels = kernels;
        this.microBatch = microBatch;
    }

    public Model model() {
        return model;
    }

    /**
     * @param data      the worker's samples (normalization, augmentation)
     * @param indices   positions in {@code data} of this shard's share
     * @param epoch     for the augmentation draws
     * @param globalBatch B, the size of the whole global batch over all workers
     * @param perWorkerEta if positive, this worker's adder gradients are adaptively scaled here with this eta
     *                  ({@code adaptive_scaling = per_worker}); 0 for the default global scaling on the driver
     */
    public Result run(Samples data, int[] indices, int epoch, int globalBatch, double perWorkerEta) {
        return run(data, indices, epoch, globalBatch, perWorkerEta, true, null);
    }

    /**
     * As {@link #run}, but the result's {@code grad} is the model's own gradient buffer, valid until the next step:
     * for a caller that encodes it at once (the sharded step's job A), which saves a copy of the whole gradient. With
     * {@code ready} (may be null), the last backward tells it which parts of the gradient are final as it goes
     * ({@link Params#setGradientReady}); not with per-worker scaling, which changes the whole gradient afterwards.
     */
    public Result runInPlace(Samples data, int[] indices, int epoch, int globalBatch, double perWorkerEta, Params.GradientReady ready) {
        return run(data, indices, epoch, globalBatch, perWorkerEta, false, perWorkerEta > 0 ? null : ready);
    }

    private Result run(Samples data, int[] indices, int epoch, int globalBatch, double perWorkerEta, boolean copy, Params.GradientReady ready) {
        Params p = model.params();
        p.zeroGrad();
        int n = indices.length;
        if (n == 0) return new Result(new float[p.grad.length], new double[p.buffers.length], 0, 0, 0, kernels);
        int parts = parts(n, microBatch);
        double lossSum = 0;
        long correct = 0;
        for (int k = 0, from = 0; k < parts; k++) {
            int size = n / parts + (k < n % parts ? 1 : 0);
            Tensor x = batch(data, epoch, indices, from, size);
            // Only the last micro-batch's backward leaves each gradient final as it passes its layer.
            boolean last = k == parts - 1 && ready != null;
            if (last) p.setGradientReady(ready);
            SoftmaxCrossEntropy.Result r;
            try {
                r = model.trainShard(x, y, 1f / globalBatch);
            } finally {
                if (last) p.setGradientReady(null);
            }
            lossSum += r.lossSum();
            correct += r.correct();
            from += size;
        }
        // Per-worker scaling sees the share's whole gradient, whatever the micro-batching.
        if (perWorkerEta > 0) Sgd.scaleAdderGradients(p, perWorkerEta);
        double[] weighted = new double[p.buffers.length]; // exact: a float times an int fits a double
        for (int i = 0; i < weighted.length; i++) weighted[i] = (double) p.buffers[i] * n;
        return new Result(copy ? p.grad.clone() : p.grad, weighted, n, lossSum, correct, kernels);
    }

    /** Number of micro-batches for a share of {@code n}: ceil(n / m), or 1 when micro-batching is off. */
    public static int parts(int n, int microBatch) {
        return microBatch <= 0 || n <= microBatch ? 1 : (n + microBatch - 1) / microBatch;
    }

    /** Samples {@code indices[from, from + n)} as one batch; the input buffer grows to the largest micro-batch only. */
    private Tensor batch(Samples data, int epoch, int[] indices, int from, int n) {
        int s = data.sampleSize();
        if (x.length < n * s) x = new float[n * s];
        if (y.length < n) y = new int[n];
        data.fill(epoch, indices, from, n, x, y, pool);
        int[] in = model.inputShape();
        return new Tensor(n, in[0], in[1], in[2], x);
    }
}
