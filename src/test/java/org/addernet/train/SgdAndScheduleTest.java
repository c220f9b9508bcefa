package org.addernet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.addernet.engine.Params;
import org.junit.jupiter.api.Test;

/**
 * What the golden cases do not cover: Nesterov momentum and the learning-rate schedules. Expected values are
 * computed here in double from PyTorch's documented update rules, step by step.
 */
class SgdAndScheduleTest {
    @Test
    void nesterovFollowsPyTorch() {
        Params.Builder pb = new Params.Builder();
        pb.add("w.weight", Params.Kind.CONV, 3);
        Params p = pb.build();
        p.data[0] = 1f;
        p.data[1] = -2f;
        p.data[2] = 0.5f;
        double[] w = {1, -2, 0.5}, buf = new double[3];
        double mom = 0.9, wd = 1e-2, lr = 0.05;
        Sgd sgd = new Sgd(3, mom, wd, true, 0.2);
        double[][] grads = {{0.3, -0.1, 2.0}, {-0.7, 0.2, 0.4}, {0.1, 0.1, -1.0}};
        for (int step = 0; step < grads.length; step++) {
            for (int i = 0; i < 3; i++) {
                p.grad[i] = (float) grads[step][i];
                double g = grads[step][i] + wd * w[i];
                buf[i] = step == 0 ? g : mom * buf[i] + g;
                w[i] -= lr * (g + mom * buf[i]);
            }
            sgd.step(p, lr);
            for (int i = 0; i < 3; i++) assertEquals(w[i], p.data[i], 1e-6, "step " + step + " w[" + i + "]");
        }
        assertEquals(3, sgd.steps());
    }

    @Test
    void adaptiveScalingTouchesOnlyAdderFilters() {
        Params.Builder pb = new Params.Builder();
        pb.add("a.adder", Params.Kind.ADDER, 2, 2);
        pb.add("b.weight", Params.Kind.CONV, 2);
        Params p = pb.build();
        float[] g = {3f, 4f, 0f, 0f, 7f, -1f};
        System.arraycopy(g, 0, p.grad, 0, 6);
        Sgd.scaleAdderGradients(p, 0.2);
        // ||(3,4,0,0)|| = 5, numel 4: factor 0.2 * 2 / 5.
        assertEquals(3 * 0.08, p.grad[0], 1e-7);
        assertEquals(4 * 0.08, p.grad[1], 1e-7);
        assertEquals(7f, p.grad[4]);
        assertEquals(-1f, p.grad[5]);
        // A zero gradient stays zero (the 1e-12 floor), not NaN.
        java.util.Arrays.fill(p.grad, 0f);
        Sgd.scaleAdderGradients(p, 0.2);
        for (float v : p.grad) assertEquals(0f, v);
    }

    @Test
    void cosinePerEpochIsPyTorchsCosineAnnealing() {
        LrSchedule s = new LrSchedule("cosine", 0.1, 10, 235, new int[0], 0.1, 0);
        for (int e = 0; e < 10; e++) {
            double expected = 0.1 * (1 + Math.cos(Math.PI * e / 10)) / 2;
            assertEquals(expected, s.lr(e, 0), 1e-15);
            assertEquals(expected, s.lr(e, 234), 1e-15, "constant within an epoch");
        }
        assertEquals(0.1, s.lr(0, 0), 1e-15);
        assertEquals(0.05, s.lr(5, 0), 1e-12);
    }

    @Test
    void stepWarmupAndPerStepCosine() {
        LrSchedule step = new LrSchedule("step", 0.1, 300, 10, new int[] {150, 225}, 0.1, 0);
        assertEquals(0.1, step.lr(149, 9), 1e-15);
        assertEquals(0.01, step.lr(150, 0), 1e-15);
        assertEquals(0.001, step.lr(299, 0), 1e-15);
        LrSchedule warm = new LrSchedule("constant", 0.4, 10, 100, new int[0], 0.1, 2);
        assertEquals(0.4 / 200, warm.lr(0, 0), 1e-15);
        assertEquals(0.4 * 150 / 200, warm.lr(1, 49), 1e-15);
        assertEquals(0.4, warm.lr(2, 0), 1e-15);
        LrSchedule cs = new LrSchedule("cosine_step", 1.0, 2, 4, new int[0], 0.1, 0);
        assertEquals((1 + Math.cos(Math.PI * 5 / 8)) / 2, cs.lr(1, 1), 1e-15);
        assertTrue(cs.lr(1, 2) < cs.lr(1, 1));
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule("exponential", 0.1, 1, 1, new int[0], 0.1, 0));
    }
}
