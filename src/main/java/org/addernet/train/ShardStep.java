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
    private float[] x = new float[0];
    private int[] y = new int[0];

    /** {@code kernels}: the engine's kernel set ({@code ConvEngine.kernelName()}), reported with every result. */
    public ShardStep(Model model, ThreadPool pool, String kernels) {
        this.model = model;
        this.pool = pool;
        this.kernels = kernels;
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
        Params p = model.params();
        p.zeroGrad();
        int n = indices.length;
        if (n == 0) return new Result(new float[p.grad.length], new double[p.buffers.length], 0, 0, 0, kernels);
        SoftmaxCrossEntropy.Result r = model.trainShard(batch(data, epoch, indices), y, 1f / globalBatch);
        if (perWorkerEta > 0) Sgd.scaleAdderGradients(p, perWorkerEta);
        double[] weighted = new double[p.buffers.length]; // exact: a float times an int fits a double
        for (int i = 0; i < weighted.length; i++) weighted[i] = (double) p.buffers[i] * n;
        return new Result(p.grad.clone(), weighted, n, r.lossSum(), r.correct(), kernels);
    }

    private Tensor batch(Samples data, int epoch, int[] indices) {
        int n = indices.length, s = data.sampleSize();
        if (x.length != n * s) x = new float[n * s];
        if (y.length != n) y = new int[n];
        data.fill(epoch, indices, 0, n, x, y, pool);
        int[] in = model.inputShape();
        return new Tensor(n, in[0], in[1], in[2], x);
    }
}
