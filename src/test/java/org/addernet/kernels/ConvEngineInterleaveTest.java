package org.addernet.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.Arrays;
import java.util.List;
import org.addernet.engine.Rng;
import org.addernet.engine.ThreadPool;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The lane-interleaved adder forward ({@link Im2col}, {@link ColumnConvEngine#interleave}) against the layouts it
 * replaces: every sample's outputs are computed again by the same engine on that sample alone (batch 1, which
 * always keeps the shifted layout), and must be bit-identical, with and without an output map (eval BN, ReLU,
 * residual), for 1, 2 and 3 threads and a workspace small enough for one output row per tile.
 */
class ConvEngineInterleaveTest {
    /** Shapes that take the interleaved layout: partial last lane groups, k 2 / 3 / 5, odd maps, several tiles. */
    private static final List<ConvGeometry> SHAPES = List.of(
            new ConvGeometry(64, 16, 8, 8, 16, 3, 1, 1),   // ResNet-20 layer3 map, 4 full lane groups
            new ConvGeometry(32, 8, 7, 7, 5, 3, 1, 1),     // ResNet-18 layer4 map: 2 groups, 2 row tiles, odd o
            new ConvGeometry(47, 3, 9, 11, 6, 3, 1, 1),    // last group 15 of 16 lanes, odd sizes
            new ConvGeometry(44, 4, 6, 5, 3, 5, 1, 2),     // k 5, pad 2
            new ConvGeometry(30, 3, 8, 9, 4, 2, 1, 0),     // k 2, no padding
            new ConvGeometry(16, 2, 4, 4, 7, 3, 1, 1));    // one group: 4 row tiles (MIN_UNITS tasks)

    @Test
    void resnetShapesTakeItAndBatchOneDoesNot() {
        try (ThreadPool pool = new ThreadPool(1)) {
            interleaveRule(pool);
        }
    }

    private static void interleaveRule(ThreadPool pool) {
        ColumnConvEngine e = new ColumnConvEngine(pool, new VectorColumnKernels());
        // The small maps (5-14 % fewer columns) take it; the large ones (2-4 % fewer) keep the shifted layout.
        for (ConvGeometry g : List.of(new ConvGeometry(64, 32, 16, 16, 32, 3, 1, 1), new ConvGeometry(64, 64, 8, 8, 64, 3, 1, 1),
                new ConvGeometry(32, 256, 14, 14, 256, 3, 1, 1), new ConvGeometry(32, 512, 7, 7, 512, 3, 1, 1))) {
            assertNotNull(e.interleave(g), g.toString());
        }
        for (ConvGeometry g : List.of(new ConvGeometry(64, 16, 32, 32, 16, 3, 1, 1), new ConvGeometry(32, 64, 56, 56, 64, 3, 1, 1),
                new ConvGeometry(32, 128, 28, 28, 128, 3, 1, 1))) {
            assertNull(e.interleave(g), g.toString());
        }
        for (ConvGeometry g : SHAPES) assertNotNull(e.interleave(g), g.toString());
        assertNull(e.interleave(new ConvGeometry(1, 64, 8, 8, 64, 3, 1, 1)));
        assertNull(e.interleave(new ConvGeometry(13, 16, 8, 8, 32, 3, 1, 1)));  // 13 of 16 lanes: more columns than shifted
        assertNull(e.interleave(new ConvGeometry(64, 16, 32, 32, 32, 3, 2, 1))); // stride 2
        ColumnConvEngine small = new ColumnConvEngine(pool, new VectorColumnKernels(), 1 << 12, 2048);
        ConvGeometry g = new ConvGeometry(32, 8, 7, 7, 5, 3, 1, 1);
        assertEquals(7, small.interleave(g).tiles(), "one output row per tile in a small workspace");
        assertEquals(2, e.interleave(g).tiles(), "two tasks per lane group");
    }

    @ParameterizedTest
    @CsvSource({"vector,1,2097152", "vector,2,2097152", "vector,3,2097152", "vector,2,4096", "scalar,3,2097152", "scalar,1,4096"})
    void equalsTheBatchOneForwardOfEverySample(String kind, int threads, int budget) {
        try (ThreadPool pool = new ThreadPool(threads)) {
            ColumnConvEngine e = new ColumnConvEngine(pool, ConvEngineTest.kernels(kind), budget, 2048);
            for (ConvGeometry g : SHAPES) {
                assertNotNull(e.interleave(g), g.toString());
                Rng r = new Rng(g.hashCode());
                boolean quantized = g.n() % 2 == 0;
                float[] x = KernelBitsTest.values(r, g.inputSize(), 1.0, quantized), w = KernelBitsTest.values(r, g.filterSize() + 3, 0.7, quantized);
                int o = g.o(), out = o * g.positions(), in = g.c() * g.h() * g.w();
                float[] meanHi = KernelBitsTest.values(r, o, 5, false), meanLo = KernelBitsTest.values(r, o, 1e-6, false);
                float[] scale = KernelBitsTest.values(r, o, 0.2, false), beta = KernelBitsTest.values(r, o, 1, false);
                float[] residual = KernelBitsTest.values(r, g.outputSize(), 1, false);
                for (int mode = 0; mode < 3; mode++) {
                    float[] s = mode == 2 ? residual : null;
                    OutputMap map = mode == 0 ? null : new OutputMap(meanHi, meanLo, scale, beta, true, s);
                    float[] y = new float[g.outputSize()];
                    if (map == null) e.adderForward(g, x, w, 3, y);
                    else e.adderForward(g, x, w, 3, y, map);
                    ConvGeometry one = g.withBatch(1);
                    assertNull(e.interleave(one));
                    for (int n = 0; n < g.n(); n++) {
                        float[] xn = Arrays.copyOfRange(x, n * in, (n + 1) * in), yn = new float[out];
                        if (map == null) {
                            e.adderForward(one, xn, w, 3, yn);
                        } else {
                            float[] sn = s == null ? null : Arrays.copyOfRange(s, n * out, (n + 1) * out);
                            e.adderForward(one, xn, w, 3, yn, new OutputMap(meanHi, meanLo, scale, beta, true, sn));
                        }
                        ThreadCountBitsTest.assertSameBits(yn, Arrays.copyOfRange(y, n * out, (n + 1) * out),
                                kind + ", " + threads + " threads, budget " + budget + ", map " + mode + ", " + g + ", sample " + n);
                    }
                }
            }
        }
    }
}
