package org.addernet.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Rng;
import org.addernet.engine.Tensor;
import org.junit.jupiter.api.Test;

/**
 * BatchNorm (train forward, backward with its parameter gradients and running statistics, eval forward), max
 * pooling, global average pooling, the fused BatchNorm + ReLU and the residual sum give the same float bits at 1, 2,
 * 3 and 8 engine threads, on odd shapes, batch 1 where BN allows it, channel counts that are multiples of no thread
 * count, and tensors above the size from which the elementwise passes run in parallel.
 */
class LayerThreadBitsTest {
    static final int[] THREADS = {1, 2, 3, 8};
    /** (n, c, h, w) */
    static final int[][] SHAPES = {{1, 5, 7, 9}, {13, 16, 8, 8}, {7, 3, 5, 5}, {29, 84, 1, 1}, {2, 17, 32, 31}, {3, 20, 31, 29}};

    private static Tensor random(int[] s, long seed) {
        Rng r = new Rng(seed);
        Tensor t = new Tensor(s[0], s[1], s[2], s[3]);
        for (int i = 0; i < t.size(); i++) t.data[i] = (float) (r.nextGaussian() * 3 - 40); // adder-like outputs
        return t;
    }

    private static float[] copy(Tensor t) {
        return java.util.Arrays.copyOf(t.data, t.size());
    }

    /** Everything the layers produce for one shape at one thread count, in a fixed order. */
    private static List<float[]> runAll(Engine engine, int[] s, long seed) {
        List<float[]> out = new ArrayList<>();
        Params.Builder pb = new Params.Builder();
        BatchNorm2d bn = new BatchNorm2d(engine, pb, "bn", s[1]);
        Params p = pb.build();
        bn.init();
        Rng r = new Rng(seed + 1);
        for (int i = 0; i < p.data.length; i++) p.data[i] = (float) (1 + 0.3 * r.nextGaussian());
        Tensor x = random(s, seed);
        out.add(copy(bn.forward(x, true)));
        Tensor dy = random(s, seed + 2);
        out.add(copy(bn.backward(dy)));
        out.add(p.grad.clone());
        out.add(p.buffers.clone());
        out.add(copy(bn.forward(x, false)));

        MaxPool2d mp = new MaxPool2d(engine, 3, 2, 1);
        Tensor y = mp.forward(x, true);
        out.add(copy(y));
        out.add(copy(mp.backward(random(new int[] {y.n, y.c, y.h, y.w}, seed + 3))));
        GlobalAvgPool gap = new GlobalAvgPool();
        out.add(copy(gap.forward(x, true)));
        out.add(copy(gap.backward(random(new int[] {s[0], s[1], 1, 1}, seed + 4))));

        // BN + ReLU fused, and a residual block relu(bn(x) + x) with it as the shortcut's partner.
        Params.Builder pb2 = new Params.Builder();
        BatchNorm2d fused = new BatchNorm2d(engine, pb2, "bnr", s[1]);
        BatchNorm2d last = new BatchNorm2d(engine, pb2, "bn2", s[1]);
        fused.setRelu(true);
        Params p2 = pb2.build();
        fused.init();
        last.init();
        for (int i = 0; i < p2.data.length; i++) p2.data[i] = (float) (1 + 0.3 * r.nextGaussian());
        Tensor xr = random(s, seed + 5);
        for (int i = 0; i < xr.size(); i++) xr.data[i] += 40; // centered: the ReLU clamps about half
        out.add(copy(fused.forward(xr, true)));
        out.add(copy(fused.backward(random(s, seed + 6))));
        Residual block = new Residual(engine, "block", last, null, true);
        out.add(copy(block.forward(xr, true)));
        out.add(copy(block.backward(random(s, seed + 7))));
        out.add(p2.grad.clone());
        out.add(p2.buffers.clone());
        return out;
    }

    @Test
    void batchNormAndPoolingHaveTheSameBitsForEveryThreadCount() {
        String[] what = {"bn forward", "bn dx", "bn grads", "bn running stats", "bn eval forward", "maxpool forward",
            "maxpool dx", "avgpool forward", "avgpool dx", "bn+relu forward", "bn+relu dx", "residual forward", "residual dx",
            "bn+relu and residual grads", "bn+relu and residual running stats"};
        List<List<float[]>> base = new ArrayList<>();
        for (int threads : THREADS) {
            try (Engine engine = Engine.create(threads, "auto")) {
                for (int i = 0; i < SHAPES.length; i++) {
                    List<float[]> out = runAll(engine, SHAPES[i], 77 + i);
                    if (threads == THREADS[0]) {
                        base.add(out);
                        continue;
                    }
                    for (int k = 0; k < out.size(); k++) {
                        assertSameBits(base.get(i).get(k), out.get(k), what[k] + " " + java.util.Arrays.toString(SHAPES[i])
                                + " at " + threads + " threads vs 1");
                    }
                }
            }
        }
    }

    static void assertSameBits(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
                throw new AssertionError(what + ": element " + i + " differs: " + want[i] + " vs " + got[i]);
            }
        }
    }
}
