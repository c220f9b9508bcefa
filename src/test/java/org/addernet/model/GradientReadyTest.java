package org.addernet.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Rng;
import org.addernet.engine.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link Params#setGradientReady} during a training backward (the sharded step puts gradient blocks while the
 * backward still runs): every parameter's range is reported exactly once, and what a range holds when it is reported
 * is, bit for bit, what it holds after the whole backward (no layer adds to a gradient after it said it was done).
 * The last parameters come first and the stem last (the backward's order), which is what lets the last slices go early.
 */
class GradientReadyTest {
    @ParameterizedTest(name = "{0} adder={1} at {2}")
    @CsvSource({"lenet5bn,true,28", "resnet20,true,32", "resnet20,false,32", "resnet18,true,32", "resnet50,true,32", "bnfree,true,28"})
    void everyLayerReportsItsFinishedGradientOnce(String arch, boolean adder, int size) {
        try (Engine engine = Engine.create(2, "vector")) {
            Model m = arch.equals("bnfree") ? TestNets.bnFree(engine, 10, 3) : Models.create(arch, adder, 10, size, engine, 3);
            Params p = m.params();
            int[] in = m.inputShape();
            Rng r = new Rng(9);
            Tensor x = new Tensor(2, in[0], in[1], in[2]);
            for (int i = 0; i < x.size(); i++) x.data[i] = (float) r.nextGaussian();
            int[] labels = {1, 7};
            int[] reported = new int[p.size()];
            List<int[]> ranges = new ArrayList<>();
            List<float[]> seen = new ArrayList<>();
            p.zeroGrad();
            p.setGradientReady((from, to) -> {
                for (int i = from; i < to; i++) reported[i]++;
                ranges.add(new int[] {from, to});
                seen.add(java.util.Arrays.copyOfRange(p.grad, from, to));
            });
            try {
                m.trainShard(x, labels, 0.5f);
            } finally {
                p.setGradientReady(null);
            }
            for (int i = 0; i < reported.length; i++) assertEquals(1, reported[i], "times float " + i + " of " + p.size() + " was reported");
            int nonZero = 0;
            for (int k = 0; k < ranges.size(); k++) {
                int from = ranges.get(k)[0];
                float[] then = seen.get(k);
                for (int i = 0; i < then.length; i++) {
                    if (Float.floatToRawIntBits(then[i]) != Float.floatToRawIntBits(p.grad[from + i])) {
                        throw new AssertionError(arch + ": grad[" + (from + i) + "] was " + then[i] + " when reported, " + p.grad[from + i] + " at the end");
                    }
                    if (then[i] != 0) nonZero++;
                }
            }
            assertTrue(nonZero > p.size() / 10, "the backward computed gradients: " + nonZero + " non-zero of " + p.size());
            // The backward's order: the last parameter among the first two ranges (a BatchNorm reports its weight, then
            // its bias), the first parameter (the stem) in the last range.
            boolean lastEarly = false;
            for (int k = 0; k < Math.min(2, ranges.size()); k++) lastEarly |= ranges.get(k)[1] == p.size();
            assertTrue(lastEarly, "the last parameter's gradient is among the first reported");
            assertEquals(0, ranges.get(ranges.size() - 1)[0], "the first parameter's gradient is the last reported");
        }
    }
}
