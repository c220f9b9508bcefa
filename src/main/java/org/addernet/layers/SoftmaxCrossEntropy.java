package org.addernet.layers;

import org.addernet.engine.Tensor;

/**
 * Softmax cross-entropy on logits of shape (N, classes, 1, 1). The loss of the step is a mean over the
 * <em>global</em> batch, which a worker sees only a share of, so the caller passes {@code scale = 1/B_global}:
 * the returned gradient is {@code (softmax - onehot) * scale} and the returned loss the plain per-sample sum.
 */
public final class SoftmaxCrossEntropy {
    private Tensor dLogits;

    /** Result on one shard: summed loss, number of correct top-1 predictions. */
    public record Result(double lossSum, int correct) {}

    private Result last;

    public Result forwardBackward(Tensor logits, int[] labels, float scale) {
        long t0 = PassTimes.start();
        int n = logits.n, k = logits.perSample();
        dLogits = Tensor.reuse(dLogits, logits.n, logits.c, logits.h, logits.w);
        double lossSum = 0;
        int correct = 0;
        for (int i = 0; i < n; i++) {
            int base = i * k;
            int label = labels[i];
            if (label < 0 || label >= k) throw new IllegalArgumentException("label " + label + " outside [0, " + k + ")");
            double max = Double.NEGATIVE_INFINITY;
            int arg = 0;
            for (int j = 0; j < k; j++) {
                float v = logits.data[base + j];
                if (v > max) {
                    max = v;
                    arg = j;
                }
            }
            if (arg == label) correct++;
            double sum = 0;
            for (int j = 0; j < k; j++) sum += Math.exp(logits.data[base + j] - max);
            double logSum = Math.log(sum) + max;
            lossSum += logSum - logits.data[base + label];
            for (int j = 0; j < k; j++) {
                double pj = Math.exp(logits.data[base + j] - logSum);
                dLogits.data[base + j] = (float) ((pj - (j == label ? 1 : 0)) * scale);
            }
        }
        last = new Result(lossSum, correct);
        PassTimes.done(PassTimes.Kind.LOSS, t0);
        return last;
    }

    /** Loss sum and top-1 hits without a gradient (evaluation). */
    public static Result evaluate(Tensor logits, int[] labels) {
        int n = logits.n, k = logits.perSample();
        double lossSum = 0;
        int correct = 0;
        for (int i = 0; i < n; i++) {
            int base = i * k;
            double max = Double.NEGATIVE_INFINITY;
            int arg = 0;
            for (int j = 0; j < k; j++) {
                if (logits.data[base + j] > max) {
                    max = logits.data[base + j];
                    arg = j;
                }
            }
            double sum = 0;
            for (int j = 0; j < k; j++) sum += Math.exp(logits.data[base + j] - max);
            lossSum += Math.log(sum) + max - logits.data[base + labels[i]];
            if (arg == labels[i]) correct++;
        }
        return new Result(lossSum, correct);
    }

    public Tensor gradient() {
        return dLogits;
    }
}
