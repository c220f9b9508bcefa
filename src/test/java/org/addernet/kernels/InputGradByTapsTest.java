package org.addernet.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.addernet.engine.Rng;
import org.addernet.engine.ThreadPool;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The adder input gradient of stride-1 shifted plans, computed tap by tap on the input pixels
 * ({@code ColumnConvEngine.inputGradByTaps}), bit for bit against the exact scalar reference of
 * {@link ConvEngineChunkTest#inputGradReference} (per column the o-ascending chain, then a pixel's taps in ascending
 * order from +0; taps without an output add nothing), alone and with the filter gradient in the same call, at 1, 2 and
 * 3 threads. Shapes: outputs as wide as the input (one copy per plane), narrower ones (pad 0) and wider ones (k 2 pad
 * 1, k 7 pad 4), several samples per unit, a row stride padded off a multiple of 1 KB (16 samples of 8x8), o not a
 * multiple of 4, channels not a multiple of 4, and ResNet-20's 8x8 layer.
 */
class InputGradByTapsTest {
    static final List<ConvGeometry> SHAPES = List.of(
            new ConvGeometry(3, 5, 9, 7, 6, 3, 1, 1),      // same width, odd map
            new ConvGeometry(2, 7, 8, 8, 9, 3, 1, 0),      // pad 0: outputs 6x6
            new ConvGeometry(5, 2, 6, 7, 13, 2, 1, 1),     // k 2 pad 1: outputs 7x8, wider than the input
            new ConvGeometry(3, 3, 7, 6, 19, 7, 1, 4),     // k 7 pad 4: outputs 9x8
            new ConvGeometry(4, 6, 14, 14, 16, 5, 1, 0),   // LeNet conv2-like: outputs 10x10
            new ConvGeometry(19, 1, 28, 28, 6, 5, 1, 2),   // LeNet conv1
            new ConvGeometry(64, 6, 8, 8, 10, 3, 1, 1),    // 4 units of 16 samples: 1024 columns, ld padded
            new ConvGeometry(6, 64, 8, 8, 64, 3, 1, 1));   // ResNet-20 layer 3

    @ParameterizedTest(name = "{0} kernels")
    @ValueSource(strings = {"vector", "scalar"})
    void matchesTheExactReferenceAloneAndWithTheFilterGradient(String kind) {
        for (int threads : new int[] {1, 2, 3}) {
            try (ThreadPool pool = new ThreadPool(threads)) {
                ColumnConvEngine e = new ColumnConvEngine(pool, ConvEngineTest.kernels(kind));
                boolean fma = !e.kernelName().equals("scalar");
                for (int i = 0; i < SHAPES.size(); i++) {
                    ConvGeometry g = SHAPES.get(i);
                    assertTrue(e.plan(g).shifted(), g + " " + e.plan(g));
                    Rng r = new Rng(311 + i);
                    boolean quantized = i % 2 == 1; // exact ties and zeros: clamp edges at +-1, -0 differences
                    float[] x = ConvEngineChunkTest.values(r, g.inputSize(), 1.0, quantized);
                    float[] w = ConvEngineChunkTest.values(r, g.filterSize() + 5, 0.8, quantized);
                    float[] dy = ConvEngineChunkTest.values(r, g.outputSize(), 1.0, quantized);
                    float[] ref = ConvEngineChunkTest.inputGradReference(g, x, w, 5, dy, fma);
                    float[] dx = new float[g.inputSize()], dw = new float[g.filterSize()];
                    java.util.Arrays.fill(dx, Float.NaN); // overwritten everywhere
                    e.adderBackward(g, x, w, 5, dy, dx, null, 0);
                    String what = kind + " " + threads + "T " + g;
                    ThreadCountBitsTest.assertSameBits(ref, dx, what + " input grad alone");
                    java.util.Arrays.fill(dx, Float.NaN);
                    e.adderBackward(g, x, w, 5, dy, dx, dw, 0);
                    ThreadCountBitsTest.assertSameBits(ref, dx, what + " input grad with the filter gradient");
                }
            }
        }
    }
}
