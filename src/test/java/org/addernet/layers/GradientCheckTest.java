package org.addernet.layers;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.Supplier;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Rng;
import org.addernet.engine.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Central finite differences against the analytic backward of the non-convolution layers (batch norm, ReLU,
 * pooling, the residual block wiring) and of the loss. The layers compute in float32, so the loss used is
 * {@code L = sum(y * r)} with random {@code r} and step sizes large enough for float rounding; the tolerance is
 * on the relative L2 error over all probed coordinates.
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

    static Tensor random(Rng rng, int n, int c, int h, int w) {
        Tensor t = new Tensor(n, c, h, w);
        for (int i = 0; i < t.size(); i++) t.data[i] = (float) rng.nextGaussian();
        return t;
    }

    static double dot(Tensor y, float[] r) {
        double s = 0;
        for (int i = 0; i < y.size(); i++) s += (double) y.data[i] * r[i];
        return s;
    }

    /** Relative L2 error of {@code analytic} against central differences of sum(layer(x) * r) in {@code values}. */
    static double fdError(Layer layer, Tensor x, float[] r, float[] values, float[] analytic, double h) {
        double num = 0, den = 0;
        for (int i = 0; i < analytic.length; i++) {
            float keep = values[i];
            values[i] = (float) (keep + h);
            double plus = dot(layer.forward(x, true), r);
            values[i] = (float) (keep - h);
            double minus = dot(layer.forward(x, true), r);
            values[i] = keep;
            double fd = (plus - minus) / (2 * h);
            num += (fd - analytic[i]) * (fd - analytic[i]);
            den += fd * fd;
        }
        return Math.sqrt(num / den);
    }

    /** Checks d(sum(layer(x) * r))/dx and, if given, d/dparams against finite differences. */
    static void check(String what, Supplier<Layer> make, Params params, Tensor x, double h, double tol) {
        Layer layer = make.get();
        Rng rng = new Rng(7);
        Tensor y = layer.forward(x, true);
        float[] r = new float[y.size()];
        for (int i = 0; i < r.length; i++) r[i] = (float) rng.nextGaussian();
        Tensor dy = new Tensor(y.n, y.c, y.h, y.w, r.clone());
        if (params != null) params.zeroGrad();
        float[] buffersBefore = params == null ? null : params.buffers.clone();
        Tensor dx = layer.backward(dy);
        float[] analyticX = dx.data.clone();
        float[] analyticP = params == null ? null : params.grad.clone();
        double relX = fdError(layer, x, r, x.data, analyticX, h);
        double relP = 0;
        if (params != null) {
            relP = fdError(layer, x, r, params.data, analyticP, h);
            System.arraycopy(buffersBefore, 0, params.buffers, 0, buffersBefore.length);
        }
        System.out.printf("gradcheck %s: dx rel err %.2e, dparams rel err %.2e%n", what, relX, relP);
        assertTrue(relX < tol, what + ": input gradient rel err " + relX);
        assertTrue(relP < tol, what + ": parameter gradient rel err " + relP);
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
        BasicBlock block = new BasicBlock(new Sequential(java.util.List.of(a, new ReLU())), new Sequential(java.util.List.of(b)));
        check("residual block", () -> block, p, x, 1e-3, 3e-3);
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
