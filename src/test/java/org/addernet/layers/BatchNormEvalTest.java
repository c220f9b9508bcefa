package org.addernet.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Rng;
import org.addernet.engine.Tensor;
import org.junit.jupiter.api.Test;

/** Eval-mode BN applied in place (the per-channel affine after an adder layer): the out-of-place results, bit for bit. */
class BatchNormEvalTest {
    static BatchNorm2d bn(Engine e, boolean inPlace, int c) {
        Params.Builder pb = new Params.Builder();
        BatchNorm2d b = new BatchNorm2d(e, pb, "bn", c);
        Params p = pb.build();
        Rng rng = new Rng(7);
        for (int i = 0; i < c; i++) {
            p.data[p.view("bn.weight").offset() + i] = (float) (0.5 + rng.nextDouble());
            p.data[p.view("bn.bias").offset() + i] = (float) (rng.nextDouble() - 0.5);
            p.buffers[p.view("bn.running_mean").offset() + i] = (float) (-300 + 10 * rng.nextDouble()); // adder outputs: large, negative
            p.buffers[p.view("bn.running_var").offset() + i] = (float) (20 + 50 * rng.nextDouble());
        }
        b.setInPlaceEval(inPlace);
        return b;
    }

    @Test
    void inPlaceEvalEqualsOutOfPlaceBitForBit() {
        int n = 3, c = 5, h = 4, w = 6;
        try (Engine e = Engine.create(2, "scalar")) {
            BatchNorm2d a = bn(e, false, c), b = bn(e, true, c);
            Tensor x = new Tensor(n, c, h, w);
            Rng rng = new Rng(11);
            for (int i = 0; i < x.size(); i++) x.data[i] = (float) (-300 + 20 * rng.nextGaussian());
            float[] before = x.data.clone();
            Tensor ya = a.forward(x, false);
            assertNotSame(x, ya);
            for (int i = 0; i < x.size(); i++) assertEquals(Float.floatToRawIntBits(before[i]), Float.floatToRawIntBits(x.data[i]), "input kept");
            float[] want = ya.data.clone();
            Tensor yb = b.forward(x, false);
            assertSame(x, yb, "in place: the input tensor is the output");
            for (int i = 0; i < want.length; i++) assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(yb.data[i]), "at " + i);
            // And against the formula itself, in double.
            BatchNorm2d r = bn(e, false, c);
            Tensor x2 = new Tensor(n, c, h, w, before.clone());
            Tensor yr = r.forward(x2, false);
            Rng prm = new Rng(7);
            for (int ch = 0; ch < c; ch++) {
                double g = (float) (0.5 + prm.nextDouble()), beta = (float) (prm.nextDouble() - 0.5);
                double mean = (float) (-300 + 10 * prm.nextDouble()), var = (float) (20 + 50 * prm.nextDouble());
                for (int s = 0; s < n; s++) {
                    for (int j = 0; j < h * w; j++) {
                        int at = (s * c + ch) * h * w + j;
                        assertEquals((before[at] - mean) / Math.sqrt(var + 1e-5) * g + beta, yr.data[at], 1e-5);
                    }
                }
            }
        }
    }
}
