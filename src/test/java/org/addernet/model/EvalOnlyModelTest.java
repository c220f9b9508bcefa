package org.addernet.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Rng;
import org.addernet.engine.Tensor;
import org.addernet.engine.ThreadPool;
import org.addernet.kernels.ConvEngine;
import org.addernet.layers.Conv2d;
import org.addernet.layers.MaxPool2d;
import org.addernet.layers.ReLU;
import org.addernet.layers.Sequential;
import org.addernet.train.ShardStep;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Eval-only models ({@link Models#createEval}): the training model's eval-mode logits bit for bit, no gradient
 * buffer, and, measured by walking the objects a model reaches (not by the code's own accounting), the memory of the
 * weights and a few activations instead of the weights twice and every layer's activations.
 */
class EvalOnlyModelTest {
    static Engine engine;

    @BeforeAll
    static void start() {
        engine = Engine.create(2, "auto");
    }

    @AfterAll
    static void stop() {
        engine.close();
    }

    /** The training model's weights and (non-default) BN statistics into {@code to}. */
    static void copyWeights(Model from, Model to) {
        Params a = from.params(), b = to.params();
        System.arraycopy(a.data, 0, b.data, 0, a.data.length);
        System.arraycopy(a.buffers, 0, b.buffers, 0, a.buffers.length);
    }

    static void randomizeBuffers(Model m, long seed) {
        Rng rng = new Rng(seed);
        Params p = m.params();
        for (Params.View v : p.bufferViews()) {
            boolean var = v.name().endsWith("running_var");
            // Adder outputs are large negative sums: means and variances of their scale keep the BN outputs O(1).
            for (int i = 0; i < v.size(); i++) {
                p.buffers[v.offset() + i] = var ? (float) (1 + 50 * rng.nextDouble()) : (float) (-5 * rng.nextDouble());
            }
        }
    }

    static Tensor input(int n, int[] in, long seed) {
        Rng rng = new Rng(seed);
        Tensor x = new Tensor(n, in[0], in[1], in[2]);
        for (int i = 0; i < x.size(); i++) x.data[i] = (float) rng.nextGaussian();
        return x;
    }

    static void assertSameBits(Tensor want, Tensor got, String what) {
        assertTrue(want.sameShape(got), what + ": " + want + " vs " + got);
        for (int i = 0; i < want.size(); i++) {
            assertEquals(Float.floatToRawIntBits(want.data[i]), Float.floatToRawIntBits(got.data[i]), what + " logit " + i);
        }
    }

    @Test
    void evalOnlyModelsGiveTheTrainingModelsEvalLogitsBitForBit() {
        // Every architecture (ImageNet ResNets at width 8 on 64x64: the same graph, smaller), both variants; batch sizes
        // that shrink and grow again, so that pooled buffers longer than the tensor are reused.
        for (String arch : Models.ARCHS) {
            boolean imageNet = Models.defaultInputSize(arch) == 224;
            for (boolean adder : new boolean[] {true, false}) {
                Model train = Models.create(arch, adder, 10, imageNet ? 64 : 0, imageNet ? 8 : 64, engine, 3);
                Model eval = Models.create(arch, adder, 10, imageNet ? 64 : 0, imageNet ? 8 : 64, engine, 4, true);
                randomizeBuffers(train, 5);
                copyWeights(train, eval);
                for (int n : new int[] {3, 1, 4}) {
                    Tensor x = input(n, train.inputShape(), 100 + n);
                    Tensor want = train.forward(x, false);
                    Tensor got = eval.forward(x, false);
                    assertSameBits(want, got, eval.name() + " batch " + n);
                    assertSameBits(want, eval.forward(x, false), eval.name() + " batch " + n + ", again");
                }
            }
        }
    }

    @Test
    void aNetworkWithAnOutOfPlaceReluAndBiasIsBitIdenticalToo() {
        // TestNets.bnFree's layers (max pool, a ReLU that is not in place, a conv with bias), built both ways.
        Model[] m = new Model[2];
        for (int k = 0; k < 2; k++) {
            Params.Builder pb = new Params.Builder();
            Conv2d conv1 = new Conv2d(engine, pb, "conv1", true, 1, 4, 5, 2, 0, false);
            Conv2d conv2 = new Conv2d(engine, pb, "conv2", false, 4, 8, 3, 1, 0, true);
            Conv2d fc = new Conv2d(engine, pb, "fc", true, 8, 10, 4, 1, 0, false);
            Sequential net = new Sequential(List.of(conv1, new MaxPool2d(2, 2, 0), conv2, new ReLU(), fc));
            m[k] = new Model("bnfree", true, 10, new int[] {1, 28, 28}, k == 0 ? pb.build() : pb.buildForInference(), net);
            Rng rng = Rng.derive(9, Rng.INIT);
            for (Conv2d c : List.of(conv1, conv2, fc)) c.init(rng, false);
        }
        assertTrue(m[1].evalOnly() && !m[0].evalOnly());
        for (int n : new int[] {5, 2}) {
            Tensor x = input(n, m[0].inputShape(), n);
            assertSameBits(m[0].forward(x, false), m[1].forward(x, false), "bnfree batch " + n);
        }
    }

    @Test
    void evalOnlyModelsHaveNoGradientsAndRefuseToTrain() {
        Model train = Models.create("resnet20", true, 10, engine, 1);
        Model eval = Models.createEval("resnet20", true, 10, 0, engine, 1);
        assertEquals(train.params().size(), train.params().grad.length);
        assertEquals(train.params().size(), eval.params().size());
        assertEquals(0, eval.params().grad.length);
        assertTrue(!eval.params().hasGrad() && train.params().hasGrad());
        Tensor x = input(2, eval.inputShape(), 1);
        IllegalStateException f = assertThrows(IllegalStateException.class, () -> eval.forward(x, true));
        assertTrue(f.getMessage().contains("inference only"), f.getMessage());
        IllegalStateException t = assertThrows(IllegalStateException.class, () -> eval.trainShard(x, new int[] {0, 1}, 0.5f));
        assertTrue(t.getMessage().contains("no gradient buffer"), t.getMessage());
        assertThrows(IllegalStateException.class, () -> eval.params().zeroGrad());
        ShardStep step = new ShardStep(eval, engine.pool(), "auto");
        assertThrows(IllegalStateException.class, () -> step.run(null, new int[] {0}, 0, 1, 0));
        // After the refusals it still evaluates, as the training model does.
        copyWeights(train, eval);
        assertSameBits(train.forward(x, false), eval.forward(x, false), "after refusals");
    }

    @Test
    void resnet50EvalModelHoldsItsWeightsAndAFewActivationsNotEveryLayers() {
        int n = 2;
        Model train = Models.create("resnet50", false, 1000, 224, engine, 7);
        Model eval = Models.createEval("resnet50", false, 1000, 224, engine, 8);
        // Counted in the official resnet50.py (torchvision's 25,557,032 plus bn2 on the logits); buffers: BN running
        // mean and var.
        long weights = 25_559_032L, buffers = 55_120L;
        assertEquals(weights, eval.params().size());
        assertEquals(buffers, eval.params().buffers.length);
        randomizeBuffers(train, 2);
        copyWeights(train, eval);
        Tensor x = input(n, train.inputShape(), 50);
        assertSameBits(train.forward(x, false), eval.forward(x, false), "resnet50 cnn at 224");
        long trainBytes = retainedBytes(train), evalBytes = retainedBytes(eval);
        // Largest activation of ResNet-50 at 224, per image: conv1's 64x112x112 = layer1's 256x56x56 = 802,816 values.
        // The peak of a forward is inside a bottleneck with a downsample: its input, main's output and the shortcut's
        // (and a 3x3 conv's input and output before that), all at most that size; the pool may keep one more free.
        long largest = 802_816L;
        long bound = 4 * (weights + buffers) + 4 * 4 * largest * n + (2 << 20); // 2 MB: per-layer BN statistics, views, logits
        System.out.printf("resnet50 (cnn, 224, batch %d) after an eval forward: training model %.1f MB, eval-only %.1f MB (bound %.1f MB,"
                + " weights %.1f MB, activation pool %.1f MB)%n", n, trainBytes / 1e6, evalBytes / 1e6, bound / 1e6, 4e-6 * weights,
                eval.activationBufferBytes() / 1e6);
        assertTrue(evalBytes <= bound, "eval-only model holds " + evalBytes + " bytes, bound " + bound);
        assertTrue(evalBytes >= 4 * weights, "the walk must at least find the weights: " + evalBytes);
        // The training model holds the gradients (a second copy of the weights) and every layer's output.
        assertTrue(trainBytes > 2 * 4 * weights + 4 * 10 * largest * n, "training model holds " + trainBytes);
    }

    /**
     * Bytes of the primitive arrays reachable from {@code root} through fields, object arrays and collections, each
     * array counted once; the engine (threads, kernel workspaces: shared by every model on it) is not followed.
     */
    static long retainedBytes(Object root) {
        Set<Object> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Object> todo = new ArrayDeque<>(List.of(root));
        long bytes = 0;
        while (!todo.isEmpty()) {
            Object o = todo.pop();
            if (!seen.add(o) || o instanceof Engine || o instanceof ThreadPool || o instanceof ConvEngine) continue;
            Class<?> c = o.getClass();
            if (c.isArray()) {
                Class<?> e = c.getComponentType();
                int len = Array.getLength(o);
                if (e.isPrimitive()) {
                    bytes += (long) len * (e == long.class || e == double.class ? 8 : e == int.class || e == float.class ? 4
                            : e == short.class || e == char.class ? 2 : 1);
                } else {
                    for (int i = 0; i < len; i++) if (Array.get(o, i) != null) todo.push(Array.get(o, i));
                }
            } else if (o instanceof Collection<?> col) {
                for (Object v : col) if (v != null) todo.push(v);
            } else if (o instanceof Map<?, ?> map) {
                for (Map.Entry<?, ?> en : map.entrySet()) {
                    if (en.getKey() != null) todo.push(en.getKey());
                    if (en.getValue() != null) todo.push(en.getValue());
                }
            } else if (!c.getName().startsWith("java.")) {
                for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
                    for (Field f : k.getDeclaredFields()) {
                        if (Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()) continue;
                        try {
                            f.setAccessible(true);
                            Object v = f.get(o);
                            if (v != null) todo.push(v);
                        } catch (ReflectiveOperationException | RuntimeException ex) {
                            throw new IllegalStateException("cannot read " + f, ex);
                        }
                    }
                }
            }
        }
        return bytes;
    }
}
