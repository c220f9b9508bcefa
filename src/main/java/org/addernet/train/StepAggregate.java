package org.addernet.train;

import org.addernet.engine.Params;
import org.addernet.model.Model;

/**
 * The sum of the {@link ShardStep.Result}s of one global step, and the driver's half of the step: install the
 * summed gradient and averaged BN statistics in the model, then the optimizer. Mergeable in any tree shape
 * (Spark's {@code treeAggregate}): starts empty and allocates its arrays on the first result, so an empty
 * zero value costs nothing to ship.
 */
public final class StepAggregate implements java.io.Serializable {
    private static final long serialVersionUID = 1L;

    float[] grad;
    double[] weightedBuffers;
    long count;
    double lossSum;
    long correct;
    /** The workers' kernel set, e.g. {@code vector-16}; null while empty (or when a caller did not say). */
    String kernels;

    /**
     * Adds a worker's result. The first result's arrays are adopted, not copied (a {@link ShardStep.Result} owns
     * fresh arrays): for a ResNet-50 that saves a 100 MB copy per step.
     */
    public StepAggregate add(ShardStep.Result r) {
        if (r.count() == 0) return this;
        kernels = sameKernels(kernels, r.kernels());
        if (grad == null) {
            grad = r.grad();
            weightedBuffers = r.weightedBuffers();
        } else {
            for (int i = 0; i < grad.length; i++) grad[i] += r.grad()[i];
            for (int i = 0; i < weightedBuffers.length; i++) weightedBuffers[i] += r.weightedBuffers()[i];
        }
        count += r.count();
        lossSum += r.lossSum();
        correct += r.correct();
        return this;
    }

    public StepAggregate merge(StepAggregate o) {
        if (o.grad == null) return this;
        kernels = sameKernels(kernels, o.kernels);
        if (grad == null) {
            grad = o.grad;
            weightedBuffers = o.weightedBuffers;
        } else {
            for (int i = 0; i < grad.length; i++) grad[i] += o.grad[i];
            for (int i = 0; i < weightedBuffers.length; i++) weightedBuffers[i] += o.weightedBuffers[i];
        }
        count += o.count;
        lossSum += o.lossSum;
        correct += o.correct;
        return this;
    }

    public long count() { return count; }
    public double lossSum() { return lossSum; }
    public long correct() { return correct; }
    public float[] grad() { return grad; }
    public double[] weightedBuffers() { return weightedBuffers; }
    public String kernels() { return kernels; }

    /**
     * Workers of one step must run the same kernel set: the vector width changes the summation order, so a mixed
     * cluster (AVX2 and AVX-512 executors) would make the run depend on which executor ran which shard.
     */
    static String sameKernels(String a, String b) {
        if (a == null) return b;
        if (b == null || a.equals(b)) return a;
        throw new IllegalStateException("the workers of one step ran different kernel sets, " + a + " and " + b
                + " (executors with different vector widths?): results would depend on which executor ran which shard;"
                + " use executors of one CPU kind, or kernels=scalar on all");
    }

    /** Restores an aggregate from its parts (the Kryo serializer's constructor). */
    public static StepAggregate of(float[] grad, double[] weightedBuffers, long count, double lossSum, long correct) {
        return of(grad, weightedBuffers, count, lossSum, correct, null);
    }

    public static StepAggregate of(float[] grad, double[] weightedBuffers, long count, double lossSum, long correct,
                                   String kernels) {
        StepAggregate a = new StepAggregate();
        a.kernels = kernels;
        a.grad = grad;
        a.weightedBuffers = weightedBuffers;
        a.count = count;
        a.lossSum = lossSum;
        a.correct = correct;
        return a;
    }

    /**
     * The driver's update: gradient and BN statistics into the model, a check that the loss is finite (before
     * any weight changes, so a diverged step never reaches a checkpoint), the optimizer step, and the step count.
     * {@code perWorkerScaled}: the workers already scaled their adder gradients.
     */
    public void apply(Model model, Sgd sgd, double lr, boolean perWorkerScaled, String where) {
        if (grad == null || count == 0) throw new IllegalStateException("empty global batch at " + where);
        if (!Double.isFinite(lossSum)) {
            throw new IllegalStateException("loss is " + lossSum + " at " + where + " (lr " + lr + "): training diverged");
        }
        Params p = model.params();
        System.arraycopy(grad, 0, p.grad, 0, grad.length);
        for (int i = 0; i < weightedBuffers.length; i++) p.buffers[i] = (float) (weightedBuffers[i] / count);
        if (perWorkerScaled) sgd.applyUpdate(p, lr);
        else sgd.step(p, lr);
        model.setNumBatchesTracked(model.numBatchesTracked() + 1);
    }
}
