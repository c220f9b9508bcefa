package org.addernet.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Rng;
import org.addernet.engine.Tensor;
import org.addernet.train.Sgd;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Two SGD steps (forward, loss, backward, adaptive adder scaling, momentum) of a whole model leave weights, BN
 * running statistics, momentum and the last logits bit-identical at 1, 2, 3 and 8 engine threads.
 */
class ModelThreadBitsTest {
    static final int[] THREADS = {1, 2, 3, 8};

    /** Weights, buffers, momentum, second step's gradient and logits after two steps on small random inputs. */
    private static List<float[]> twoSteps(String arch, int batch, int threads, String kernels) {
        try (Engine engine = Engine.create(threads, kernels)) {
            Model m = Models.create(arch, true, 10, engine, 11);
            int[] in = m.inputShape();
            float[] init = m.params().data.clone();
            Sgd sgd = new Sgd(m.params().size(), 0.9, 5e-4, false, 0.2);
            Rng r = new Rng(5);
            for (int step = 0; step < 2; step++) {
                Tensor x = new Tensor(batch, in[0], in[1], in[2]);
                for (int i = 0; i < x.size(); i++) x.data[i] = (float) r.nextGaussian();
                int[] labels = new int[batch];
                for (int i = 0; i < batch; i++) labels[i] = r.nextInt(10);
                m.params().zeroGrad();
                m.trainShard(x, labels, 1f / batch);
                sgd.step(m.params(), 0.1);
                m.setNumBatchesTracked(m.numBatchesTracked() + 1);
            }
            int moved = 0;
            for (int i = 0; i < init.length; i++) if (init[i] != m.params().data[i]) moved++;
            assertTrue(moved > init.length / 2, "the steps changed most weights: " + moved + " of " + init.length);
            List<float[]> out = new ArrayList<>();
            out.add(m.params().data.clone());
            out.add(m.params().buffers.clone());
            out.add(sgd.momentumBuffer().clone());
            out.add(m.params().grad.clone());
            out.add(java.util.Arrays.copyOf(m.lastLogits().data, m.lastLogits().size()));
            return out;
        }
    }

    /** Eval-mode logits of batch-1 (and batch-2) inference, as predict runs it: BN in place, fused ReLUs. */
    @ParameterizedTest(name = "{0} eval, {1} kernels")
    @CsvSource({"resnet20,vector", "resnet20,scalar", "lenet5bn,vector"})
    void smallBatchInferenceHasTheSameBitsForEveryThreadCount(String arch, String kernels) {
        float[][] base = null;
        for (int threads : THREADS) {
            try (Engine engine = Engine.create(threads, kernels)) {
                Model m = Models.create(arch, true, 10, engine, 13);
                int[] in = m.inputShape();
                Rng r = new Rng(21);
                float[][] out = new float[2][];
                for (int batch = 1; batch <= 2; batch++) {
                    Tensor x = new Tensor(batch, in[0], in[1], in[2]);
                    for (int i = 0; i < x.size(); i++) x.data[i] = (float) r.nextGaussian();
                    Tensor y = m.forward(x, false);
                    out[batch - 1] = java.util.Arrays.copyOf(y.data, y.size());
                }
                if (base == null) {
                    base = out;
                    continue;
                }
                for (int b = 0; b < 2; b++) {
                    for (int i = 0; i < base[b].length; i++) {
                        if (Float.floatToRawIntBits(base[b][i]) != Float.floatToRawIntBits(out[b][i])) {
                            throw new AssertionError(arch + " batch " + (b + 1) + " logit " + i + " at " + threads + " threads: "
                                    + out[b][i] + " vs " + base[b][i] + " at 1 thread");
                        }
                    }
                }
            }
        }
    }

    /**
     * Eval-only models (BatchNorm, ReLU and residual sums fused into the adder/conv output writes, batch 1 split by
     * channel blocks) give, at 1, 2, 3 and 8 threads and batches 1, 2, 3, 5, 8, the bits of the training model's eval
     * forward on one thread (separate BatchNorm, ReLU and residual passes), with BN statistics and affine weights
     * that are not the identity.
     */
    @ParameterizedTest(name = "{0} eval-only, {1} kernels")
    @CsvSource({"resnet20,vector", "resnet20,scalar", "lenet5bn,vector", "resnet32,vector"})
    void evalOnlyInferenceMatchesTheTrainingModelForEveryThreadCountAndSmallBatch(String arch, String kernels) {
        int[] batches = {1, 2, 3, 5, 8};
        List<float[]> want = new ArrayList<>();
        List<Tensor> inputs = new ArrayList<>();
        float[] weights, buffers;
        try (Engine engine = Engine.create(1, kernels)) {
            Model train = Models.create(arch, true, 10, engine, 17);
            EvalOnlyModelTest.randomizeBuffers(train, 23);
            Rng r = new Rng(29);
            for (Params.View v : train.params().params()) {
                if (v.kind() != Params.Kind.BN_WEIGHT && v.kind() != Params.Kind.BN_BIAS) continue;
                boolean gamma = v.kind() == Params.Kind.BN_WEIGHT;
                for (int i = 0; i < v.size(); i++) {
                    train.params().data[v.offset() + i] = gamma ? (float) (0.5 + r.nextDouble()) : (float) r.nextGaussian();
                }
            }
            weights = train.params().data.clone();
            buffers = train.params().buffers.clone();
            int[] in = train.inputShape();
            for (int b : batches) {
                Tensor x = EvalOnlyModelTest.input(b, in, 31 + b);
                inputs.add(x);
                Tensor y = train.forward(x, false);
                want.add(java.util.Arrays.copyOf(y.data, y.size()));
            }
        }
        long distinct = java.util.stream.IntStream.range(0, 10).mapToDouble(i -> want.get(0)[i]).filter(Double::isFinite).distinct().count();
        assertTrue(distinct >= 5, "logits are finite and not degenerate: " + java.util.Arrays.toString(want.get(0)));
        for (int threads : THREADS) {
            try (Engine engine = Engine.create(threads, kernels)) {
                Model eval = Models.createEval(arch, true, 10, 0, engine, 3);
                System.arraycopy(weights, 0, eval.params().data, 0, weights.length);
                System.arraycopy(buffers, 0, eval.params().buffers, 0, buffers.length);
                for (int k = 0; k < batches.length; k++) {
                    Tensor y = eval.forward(inputs.get(k), false);
                    float[] a = want.get(k);
                    assertEquals(a.length, y.size());
                    for (int i = 0; i < a.length; i++) {
                        if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(y.data[i])) {
                            throw new AssertionError(arch + " eval-only batch " + batches[k] + " logit " + i + " at " + threads + " threads: "
                                    + y.data[i] + " vs " + a[i] + " (training model, 1 thread)");
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}, batch {1}, {2} kernels")
    @CsvSource({"lenet5bn,7,vector", "lenet5bn,7,scalar", "resnet20,5,vector", "lenet5bn,37,vector"})
    void twoTrainingStepsHaveTheSameBitsForEveryThreadCount(String arch, int batch, String kernels) {
        String[] what = {"weights", "BN buffers", "momentum", "gradient", "logits"};
        List<float[]> base = twoSteps(arch, batch, THREADS[0], kernels);
        for (int t = 1; t < THREADS.length; t++) {
            List<float[]> out = twoSteps(arch, batch, THREADS[t], kernels);
            for (int k = 0; k < out.size(); k++) {
                float[] a = base.get(k), b = out.get(k);
                assertEquals(a.length, b.length);
                for (int i = 0; i < a.length; i++) {
                    if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                        throw new AssertionError(arch + " " + what[k] + "[" + i + "] at " + THREADS[t] + " threads: " + b[i]
                                + " vs " + a[i] + " at 1 thread");
                    }
                }
            }
        }
    }
}
