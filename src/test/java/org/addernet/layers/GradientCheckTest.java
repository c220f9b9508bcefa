package org.addernet.layers;

import static org.addernet.layers.FiniteDifference.check;
import static org.addernet.layers.FiniteDifference.random;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Rng;
import org.addernet.engine.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Central finite differences ({@link FiniteDifference}) against the analytic backward of the non-convolution
 * layers (batch norm, ReLU, pooling, the residual block wiring), of a small bottleneck block of ordinary
 * convolutions, and of the loss.
 */
class GradientCheckTest {
    static Engine engine;

    @BeforeAll
    static void start() {
        engine = Engine.create(2, "scalar");
    }

    @AfterAll
    static void stop() {
        engine.close();
    }

    @Test
    void batchNorm() {
        Params.Builder pb = new Params.Builder();
        BatchNorm2d bn = new BatchNorm2d(engine, pb, "bn", 3);
        Params p = pb.build();
        bn.init();
        Rng rng = new Rng(1);
        for (int i = 0; i < 3; i++) {
            p.data[i] = (float) (1 + 0.5 * rng.nextGaussian());
            p.data[3 + i] = (float) rng.nextGaussian();
        }
        check("batchnorm", () -> bn, p, random(rng, 4, 3, 3, 5), 1e-2, 2e-3);
    }

    @Test
    void batchNormOnOneByOneMaps() {
        Params.Builder pb = new Params.Builder();
        BatchNorm2d bn = new BatchNorm2d(engine, pb, "bn", 5);
        Params p = pb.build();
        bn.init();
        check("batchnorm 1x1", () -> bn, p, random(new Rng(2), 6, 5, 1, 1), 1e-2, 2e-3);
    }

    @Test
    void maxPool() {
        // Distinct, well separated values keep the argmax stable under the perturbation.
        Rng rng = new Rng(3);
        Tensor x = new Tensor(2, 3, 7, 6);
        int[] perm = rng.permutation(x.size());
        for (int i = 0; i < x.size(); i++) x.data[i] = perm[i] * 0.1f;
        check("maxpool k2 s2", () -> new MaxPool2d(2, 2, 0), null, x, 1e-2, 1e-3);
        check("maxpool k3 s2 p1", () -> new MaxPool2d(3, 2, 1), null, x, 1e-2, 1e-3);
    }

    @Test
    void averagePoolAndRelu() {
        Rng rng = new Rng(4);
        check("global avg pool", GlobalAvgPool::new, null, random(rng, 3, 4, 5, 3), 1e-2, 1e-3);
        Tensor x = random(rng, 2, 3, 4, 4);
        for (int i = 0; i < x.size(); i++) if (Math.abs(x.data[i]) < 0.05f) x.data[i] = 0.3f; // away from the kink
        check("relu", ReLU::new, null, x, 1e-2, 1e-3);
    }

    @Test
    void residualBlockWiring() {
        Params.Builder pb = new Params.Builder();
        BatchNorm2d a = new BatchNorm2d(engine, pb, "a", 2);
        BatchNorm2d b = new BatchNorm2d(engine, pb, "b", 2);
        Params p = pb.build();
        a.init();
        b.init();
        Rng rng = new Rng(5);
        for (int i = 0; i < p.data.length; i++) p.data[i] += (float) (0.3 * rng.nextGaussian());
        // a's bias keeps the inner ReLU open; b's pulls the residual sum around 0 so the outer ReLU masks some.
        p.data[2] += 3f;
        p.data[3] += 3f;
        p.data[6] -= 3f;
        p.data[7] -= 3f;
        // Finite differences are only valid away from the ReLU kinks: draw inputs until no pre-activation is
        // near 0, and the outer ReLU masks some values but not all.
        Tensor x = null;
        for (int attempt = 0; attempt < 200 && x == null; attempt++) {
            Tensor cand = random(rng, 3, 2, 3, 3);
            float[] ya = a.forward(cand, true).data.clone(), yb = b.forward(cand, true).data;
            int masked = 0;
            boolean ok = true;
            for (int i = 0; i < ya.length && ok; i++) {
                ok = ya[i] > 0.1f && Math.abs(ya[i] + yb[i]) > 0.05f;
                if (ya[i] + yb[i] < 0) masked++;
            }
            if (ok && masked > 0 && masked < ya.length) x = cand;
        }
        assertTrue(x != null, "no input away from the ReLU kinks found");
        Residual block = new Residual("block", new Sequential(java.util.List.of(a, new ReLU())), new Sequential(java.util.List.of(b)), false);
        check("residual block", () -> block, p, x, 1e-3, 3e-3);
    }

    /**
     * A bottleneck block of ordinary convolutions wired as the ImageNet ResNets wire it (1x1, 3x3 stride 2, 1x1 to
     * 4x planes, 1x1 stride-2 shortcut, in-place ReLUs and residual sum). Adder layers are left out on purpose:
     * their backward is by design not the derivative of their forward (full-precision filter gradient, HardTanh
     * input gradient), so finite differences cannot check it; the golden cases do.
     */
    @Test
    void bottleneckBlock() {
        Params.Builder pb = new Params.Builder();
        int in = 4, planes = 2, out = 4 * planes;
        Conv2d c1 = new Conv2d(engine, pb, "conv1", false, in, planes, 1, 1, 0, false);
        BatchNorm2d b1 = new BatchNorm2d(engine, pb, "bn1", planes);
        Conv2d c2 = new Conv2d(engine, pb, "conv2", false, planes, planes, 3, 2, 1, false);
        BatchNorm2d b2 = new BatchNorm2d(engine, pb, "bn2", planes);
        Conv2d c3 = new Conv2d(engine, pb, "conv3", false, planes, out, 1, 1, 0, false);
        BatchNorm2d b3 = new BatchNorm2d(engine, pb, "bn3", out);
        Conv2d d0 = new Conv2d(engine, pb, "downsample.0", false, in, out, 1, 2, 0, false);
        BatchNorm2d d1 = new BatchNorm2d(engine, pb, "downsample.1", out);
        Params p = pb.build();
        Rng rng = new Rng(8);
        for (Conv2d c : java.util.List.of(c1, c2, c3, d0)) c.init(rng, false);
        for (BatchNorm2d b : java.util.List.of(b1, b2, b3, d1)) b.init();
        for (Params.View v : p.params()) {
            if (v.kind() != Params.Kind.BN_WEIGHT && v.kind() != Params.Kind.BN_BIAS) continue;
            // Finite differences are only valid away from the ReLU kinks: BN biases keep the inner ReLUs mostly
            // open and the residual sum mostly positive, with some values masked.
            double shift = v.kind() == Params.Kind.BN_WEIGHT ? 0 : v.name().startsWith("bn3") || v.name().startsWith("down") ? 0.8 : 2;
            for (int i = 0; i < v.size(); i++) p.data[v.offset() + i] += (float) (shift + 0.3 * rng.nextGaussian());
        }
        Layer main = new Sequential(java.util.List.of(c1, b1, new ReLU(true), c2, b2, new ReLU(true), c3, b3));
        Residual block = new Residual("layer1.0", main, new Sequential(java.util.List.of(d0, d1)), true);
        check("bottleneck block", () -> block, p, random(rng, 3, in, 6, 6), 1e-2, 1e-3, 3e-3, 0);
    }

    @Test
    void softmaxCrossEntropy() {
        Rng rng = new Rng(6);
        Tensor logits = random(rng, 5, 7, 1, 1);
        int[] labels = {0, 6, 3, 3, 1};
        float scale = 1f / 5;
        SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy();
        loss.forwardBackward(logits, labels, scale);
        float[] analytic = loss.gradient().data.clone();
        double num = 0, den = 0, h = 1e-2;
        for (int i = 0; i < logits.size(); i++) {
            float keep = logits.data[i];
            logits.data[i] = (float) (keep + h);
            double plus = SoftmaxCrossEntropy.evaluate(logits, labels).lossSum() * scale;
            logits.data[i] = (float) (keep - h);
            double minus = SoftmaxCrossEntropy.evaluate(logits, labels).lossSum() * scale;
            logits.data[i] = keep;
            double fd = (plus - minus) / (2 * h);
            num += (fd - analytic[i]) * (fd - analytic[i]);
            den += fd * fd;
        }
        double rel = Math.sqrt(num / den);
        System.out.printf("gradcheck softmax cross-entropy: rel err %.2e%n", rel);
        assertTrue(rel < 1e-3, "loss gradient rel err " + rel);
        double lossSum = loss.forwardBackward(logits, labels, scale).lossSum();
        // The loss itself, from its definition in double: -log softmax.
        double ref = 0;
        for (int i = 0; i < 5; i++) {
            double z = 0;
            for (int j = 0; j < 7; j++) z += Math.exp(logits.data[i * 7 + j]);
            ref -= Math.log(Math.exp(logits.data[i * 7 + labels[i]]) / z);
        }
        assertTrue(Math.abs(lossSum - ref) < 1e-9 * Math.abs(ref) + 1e-12, "loss " + lossSum + " vs " + ref);
    }
}
