package org.addernet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.addernet.data.Samples;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Tensor;
import org.addernet.layers.SoftmaxCrossEntropy;
import org.addernet.model.Model;
import org.addernet.model.Models;
import org.addernet.model.TestNets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code micro_batch} ({@link ShardStep}) on the Fashion-MNIST fixture's images: without BN, micro-batches give the
 * one-batch gradient up to float summation order; with BN (LeNet-5-BN), they give what an explicit PyTorch-style
 * loop over the chunks gives, the references computed here chunk by chunk from the model alone. Plus the split
 * rule and the {@code micro_batch} validation.
 */
class MicroBatchTest {
    static Engine engine;
    static Samples data;
    /** A share of 16 fixture images, as positions in the training set, in a scrambled order. */
    static final int[] SHARE = {5, 17, 3, 900, 41, 42, 8, 600, 77, 123, 999, 250, 64, 31, 512, 700};
    /** The global batch the share is part of: the loss gradient is scaled by 1/B, B larger than the share. */
    static final int B = 64;

    @BeforeAll
    static void start() throws Exception {
        engine = Engine.create(2, "auto");
        Recipe r = new Recipe(TrainerTest.config());
        data = r.assembler(r.dataset(true), true);
    }

    @AfterAll
    static void stop() {
        engine.close();
    }

    /** Largest |a - ref| over each parameter view, relative to the view's largest |ref|: the worst over views. */
    static double worstRelErr(Params p, float[] a, float[] ref) {
        double worst = 0;
        for (Params.View v : p.params()) {
            double diff = 0, scale = 0;
            for (int i = v.offset(); i < v.offset() + v.size(); i++) {
                diff = Math.max(diff, Math.abs((double) a[i] - ref[i]));
                scale = Math.max(scale, Math.abs(ref[i]));
            }
            assertTrue(scale > 0, "gradient of " + v.name() + " is zero: the test would prove nothing");
            worst = Math.max(worst, diff / scale);
        }
        return worst;
    }

    static boolean sameBits(float[] a, float[] b) {
        if (a.length != b.length) return false;
        for (int i = 0; i < a.length; i++) if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) return false;
        return true;
    }

    @Test
    void withoutBnMicroBatchesGiveTheOneBatchGradient() {
        Model m = TestNets.bnFree(engine, 10, 7);
        ShardStep.Result one = new ShardStep(m, engine.pool(), engine.conv().kernelName()).run(data, SHARE, 0, B, 0);
        for (int mb : new int[] {1, 3, 5, 15, 16, 40}) {
            ShardStep.Result r = new ShardStep(m, engine.pool(), engine.conv().kernelName(), mb).run(data, SHARE, 0, B, 0);
            assertEquals(one.count(), r.count());
            assertEquals(one.correct(), r.correct(), "micro_batch " + mb + ": correct count");
            assertEquals(one.lossSum(), r.lossSum(), 1e-12 * Math.abs(one.lossSum()), "micro_batch " + mb + ": loss sum");
            double err = worstRelErr(m.params(), r.grad(), one.grad());
            System.out.printf("BN-free net, share of %d, micro_batch %d: worst relative gradient difference %.2e%n", SHARE.length, mb, err);
            if (mb >= SHARE.length) {
                // One micro-batch: the very same computation.
                assertTrue(sameBits(one.grad(), r.grad()), "micro_batch " + mb + " >= share must be the one-batch run bit for bit");
            } else {
                // Not bit-identical: each layer sums its filter gradient over the samples of one micro-batch (per
                // thread, then added into grad), so the share's sum is grouped ((s1+..+s3)+(s4+..+s6)+..) instead of
                // in the kernel's one-batch order, and float addition is not associative. 2e-7 to 3e-7 is observed.
                assertTrue(err < 2e-6, "micro_batch " + mb + ": gradient differs from the one-batch gradient by " + err);
            }
        }
    }

    /** Runs {@code indices[from, to)} through the model in training mode from zero gradients; returns the gradient. */
    static float[] chunkGradient(Model m, int from, int to, SoftmaxCrossEntropy.Result[] loss, int slot) {
        int n = to - from, s = data.sampleSize();
        float[] x = new float[n * s];
        int[] y = new int[n];
        data.fill(0, SHARE, from, n, x, y, null);
        m.params().zeroGrad();
        loss[slot] = m.trainShard(new Tensor(n, 1, 28, 28, x), y, 1f / B);
        return m.params().grad.clone();
    }

    /**
     * With BN the share's micro-batches are normalized each with its own statistics, so the reference is an
     * explicit loop: each chunk run alone from the same starting BN buffers r0, its gradient g_k and the buffers
     * b_k it leaves. The accumulated gradient must be sum_k g_k, and the running statistics PyTorch's sequential
     * per-forward update r <- (1 - m) r + m * stat_k, where m * stat_k = b_k - (1 - m) r0 (each chunk alone moved
     * r0 by exactly that). Checked for halves (micro_batch 8) and for the near-equal split 6, 5, 5 (micro_batch 6).
     */
    @Test
    void withBnMicroBatchesEqualAnExplicitLoopOverTheChunks() {
        Model m = Models.create("lenet5bn", true, 10, engine, 11);
        Params p = m.params();
        new ShardStep(m, engine.pool(), engine.conv().kernelName()).run(data, SHARE, 0, B, 0); // BN buffers away from their initial 0 / 1
        float[] r0 = p.buffers.clone();
        ShardStep.Result one = new ShardStep(m, engine.pool(), engine.conv().kernelName()).run(data, SHARE, 0, B, 0);
        float[] oneBuffers = p.buffers.clone();
        double momentum = 0.1;
        for (int[] chunks : new int[][] {{0, 8, 16}, {0, 6, 11, 16}}) {
            int mb = chunks[1] - chunks[0], k = chunks.length - 1;
            assertEquals(k, ShardStep.parts(SHARE.length, mb));
            // The reference, chunk by chunk.
            float[] grad = new float[p.size()];
            double[] running = new double[r0.length];
            for (int i = 0; i < r0.length; i++) running[i] = r0[i];
            double lossSum = 0;
            long correct = 0;
            SoftmaxCrossEntropy.Result[] loss = new SoftmaxCrossEntropy.Result[k];
            for (int c = 0; c < k; c++) {
                System.arraycopy(r0, 0, p.buffers, 0, r0.length);
                float[] g = chunkGradient(m, chunks[c], chunks[c + 1], loss, c);
                for (int i = 0; i < grad.length; i++) grad[i] += g[i];
                for (int i = 0; i < running.length; i++) {
                    running[i] = (1 - momentum) * running[i] + ((double) p.buffers[i] - (1 - momentum) * r0[i]);
                }
                lossSum += loss[c].lossSum();
                correct += loss[c].correct();
            }
            // The micro-batched share.
            System.arraycopy(r0, 0, p.buffers, 0, r0.length);
            ShardStep.Result r = new ShardStep(m, engine.pool(), engine.conv().kernelName(), mb).run(data, SHARE, 0, B, 0);
            double err = worstRelErr(p, r.grad(), grad), errOne = worstRelErr(p, r.grad(), one.grad());
            System.out.printf("LeNet-5-BN, share of %d, micro_batch %d: gradient vs explicit loop %.2e, vs one batch %.2e%n",
                    SHARE.length, mb, err, errOne);
            assertTrue(err < 1e-6, "micro_batch " + mb + ": gradient differs from the explicit loop's by " + err);
            // The check can fail: BN statistics per micro-batch make a clearly different gradient from one batch's.
            assertTrue(errOne > 1e-3, "micro_batch " + mb + ": gradient should differ from the one-batch gradient, got " + errOne);
            assertEquals(lossSum, r.lossSum(), 1e-12 * lossSum);
            assertEquals(correct, r.correct());
            double worstBuf = 0, worstOneBuf = 0;
            for (int i = 0; i < running.length; i++) {
                double scale = Math.max(1.0, Math.abs(running[i]));
                worstBuf = Math.max(worstBuf, Math.abs(p.buffers[i] - running[i]) / scale);
                worstOneBuf = Math.max(worstOneBuf, Math.abs(oneBuffers[i] - running[i]) / scale);
                // The worker reports its buffers times its sample count (the driver's shard-weighted average).
                assertEquals((double) p.buffers[i] * SHARE.length, r.weightedBuffers()[i]);
            }
            assertTrue(worstBuf < 1e-5, "micro_batch " + mb + ": running statistics differ from k sequential updates by " + worstBuf);
            assertTrue(worstOneBuf > 1e-4, "one update from the whole share should differ from k updates: " + worstOneBuf);
        }
    }

    @Test
    void theSplitIsNearEqualAndAtMostMicroBatch() {
        // parts = ceil(n / m); sizes n / parts rounded, the larger first.
        assertEquals(1, ShardStep.parts(16, 0));
        assertEquals(1, ShardStep.parts(16, 16));
        assertEquals(1, ShardStep.parts(16, 100));
        assertEquals(2, ShardStep.parts(16, 8));
        assertEquals(3, ShardStep.parts(16, 6));
        assertEquals(16, ShardStep.parts(16, 1));
        assertEquals(2, ShardStep.parts(257, 256)); // 129 + 128, not 256 + 1
        // From micro_batch 3 on, no share of 2 or more leaves a micro-batch of 1 (BN on the logits needs 2).
        for (int m = 3; m <= 40; m++) {
            for (int n = 2; n <= 300; n++) {
                int k = ShardStep.parts(n, m);
                assertTrue(n / k >= 2 && (n + k - 1) / k <= m, "n " + n + ", micro_batch " + m);
            }
        }
    }

    /**
     * Through the trainer: the log states the effective rate and the micro-batching, and {@code num_batches_tracked}
     * counts optimizer steps (this project's choice, see docs/DESIGN-NOTES.md), not BN forwards as PyTorch's
     * accumulation loop would (5 per step here).
     */
    @Test
    void singleProcessRunWithMicroBatches(@TempDir Path out) throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (SingleProcess run = TrainerTest.run(TrainerTest.config("micro_batch=10", "lr_scaling=linear", "train_limit=200",
                "test_limit=100", "epochs=1", "checkpoint=false"), out, new PrintStream(log, true, StandardCharsets.UTF_8))) {
            Trainer.EpochMetrics m = run.trainer().run();
            assertEquals(4, m.steps());
            assertTrue(Double.isFinite(m.trainLoss()));
            assertEquals(4, run.trainer().model().numBatchesTracked());
        }
        String text = log.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("lr0 0.0195313 = lr 0.1 x batch 50 / 256 (lr_scaling=linear), cosine, no warm-up;"
                + " micro-batches of at most 10 samples per worker share"), text);
    }

    @Test
    void microBatchIsValidated() throws Exception {
        for (String bad : new String[] {"-1", "1", "2"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new Recipe(TrainerTest.config("micro_batch=" + bad)));
            assertTrue(e.getMessage().contains("micro_batch"), e.getMessage());
        }
        assertEquals(0, new Recipe(TrainerTest.config()).microBatch);
        assertEquals(3, new Recipe(TrainerTest.config("micro_batch=3")).microBatch);
        assertThrows(IllegalArgumentException.class, () -> new ShardStep(null, null, "scalar", -1));
    }
}
