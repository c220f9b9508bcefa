package org.addernet.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.addernet.engine.Rng;
import org.addernet.engine.ThreadPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every op of both kernel sets gives the same float bits at 1, 2, 3 and 8 threads: adder and conv forward,
 * input gradient and filter gradient (accumulated onto a non-zero {@code dw}), on shapes with odd sizes,
 * stride 2, 1x1, batch 1 and batches that are multiples of nothing, with the default workspace and with a tiny
 * one (many units, samples split into pieces).
 */
class ThreadCountBitsTest {
    static final int[] THREADS = {1, 2, 3, 8};

    static final List<ConvGeometry> SHAPES = List.of(
            new ConvGeometry(1, 3, 32, 32, 16, 3, 1, 1),     // batch 1, ResNet-20 conv1
            new ConvGeometry(7, 16, 32, 32, 16, 3, 1, 1),    // shifted layout, one sample per unit
            new ConvGeometry(13, 16, 8, 8, 32, 3, 1, 1),     // 13 samples: several per unit, a short last unit
            new ConvGeometry(23, 16, 16, 16, 32, 3, 2, 1),   // stride 2 (explicit im2col)
            new ConvGeometry(11, 16, 16, 16, 32, 1, 2, 0),   // 1x1 stride 2 shortcut
            new ConvGeometry(37, 120, 1, 1, 84, 1, 1, 0),    // 1x1 on 1x1 maps (LeNet fc2)
            new ConvGeometry(29, 16, 5, 5, 120, 5, 1, 0),    // full window (LeNet fc1)
            new ConvGeometry(19, 1, 28, 28, 6, 5, 1, 2),     // LeNet conv1
            new ConvGeometry(5, 7, 13, 11, 9, 3, 1, 1),      // odd everything
            new ConvGeometry(3, 5, 9, 7, 6, 1, 1, 0),        // pointwise copy path
            new ConvGeometry(2, 3, 17, 15, 5, 7, 3, 2),      // k 7, stride 3
            new ConvGeometry(1, 8, 40, 40, 4, 3, 1, 1),      // batch 1, P > target columns
            new ConvGeometry(64, 2, 6, 6, 3, 3, 1, 1),       // many tiny samples
            new ConvGeometry(40, 4, 32, 32, 8, 3, 1, 1));    // 40 units: 16 groups of 2 or 3

    /**
     * Batch-1 shifted (stride 1) and phase-split (stride 2) layers, whose forward splits the output channels or the
     * shifted columns over the threads (KernelBitsTest pins the hashes of SHAPES, so these are a list of their own).
     */
    static final List<ConvGeometry> BATCH1_SHIFTED = List.of(
            new ConvGeometry(1, 16, 32, 32, 16, 3, 1, 1),    // ResNet-20 layer1
            new ConvGeometry(1, 64, 8, 8, 64, 3, 1, 1),      // ResNet-20 layer3: 96 shifted columns, pieces of 48, 32, 16
            new ConvGeometry(1, 7, 13, 11, 9, 5, 1, 2),      // k 5, odd sizes
            new ConvGeometry(1, 7, 26, 23, 9, 5, 1, 2),      // k 5, 704 columns: split by output rows, each packing its own
            new ConvGeometry(1, 6, 23, 22, 8, 2, 1, 0),      // k 2, no padding, rows split mid-row (552 columns)
            new ConvGeometry(1, 5, 12, 12, 3, 3, 1, 1),      // 176 columns: 6 pieces of 32 at 8 threads
            new ConvGeometry(2, 16, 8, 8, 16, 3, 1, 1),      // two samples in one unit (162 columns)
            new ConvGeometry(1, 3, 32, 32, 16, 3, 1, 1),     // ResNet-20 conv1: 3 channels, 1104 columns
            new ConvGeometry(1, 32, 16, 16, 32, 3, 1, 1),    // ResNet-20 layer2: 304 columns
            new ConvGeometry(1, 16, 32, 32, 32, 3, 2, 1),    // ResNet-20's stride-2 layer, phase-split
            new ConvGeometry(1, 16, 32, 32, 32, 1, 2, 0),    // its 1x1 stride-2 shortcut
            new ConvGeometry(1, 24, 15, 15, 8, 3, 2, 1));    // odd map, 8 channels: column pieces at 3 threads

    /** All outputs of one engine configuration, flattened: y, dx, dw for adder, then for conv. */
    private static float[][] runAll(ConvEngine e, ConvGeometry g, long seed) {
        Rng r = new Rng(seed);
        float[] x = gaussian(r, g.inputSize(), 1.0), w = gaussian(r, g.filterSize() + 3, 0.7), dy = gaussian(r, g.outputSize(), 1.0);
        float[] dw0 = gaussian(r, g.filterSize() + 5, 0.1);
        float[][] out = new float[6][];
        for (int a = 0; a < 2; a++) {
            boolean adder = a == 0;
            float[] y = new float[g.outputSize()], dx = new float[g.inputSize()], dw = dw0.clone();
            if (adder) {
                e.adderForward(g, x, w, 3, y);
                e.adderBackward(g, x, w, 3, dy, dx, dw, 2);
            } else {
                e.convForward(g, x, w, 3, y);
                e.convBackward(g, x, w, 3, dy, dx, dw, 2);
            }
            out[3 * a] = y;
            out[3 * a + 1] = dx;
            out[3 * a + 2] = dw;
        }
        return out;
    }

    private static float[] gaussian(Rng r, int size, double scale) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) a[i] = (float) (r.nextGaussian() * scale);
        return a;
    }

    static void assertSameBits(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
                throw new AssertionError(what + ": element " + i + " differs: " + want[i] + " vs " + got[i]);
            }
        }
    }

    private static final String[] OPS = {"adder forward", "adder input grad", "adder filter grad",
        "conv forward", "conv input grad", "conv filter grad"};

    private static void compareThreadCounts(String kind, int budget, int targetCols) {
        compareThreadCounts(kind, budget, targetCols, SHAPES);
    }

    private static void compareThreadCounts(String kind, int budget, int targetCols, List<ConvGeometry> shapes) {
        compareThreadCounts(kind, budget, targetCols, shapes, "rows");
    }

    private static void compareThreadCounts(String kind, int budget, int targetCols, List<ConvGeometry> shapes, String split) {
        float[][][] base = new float[shapes.size()][][];
        for (int threads : THREADS) {
            try (ThreadPool pool = new ThreadPool(threads)) {
                ColumnConvEngine e = new ColumnConvEngine(pool, ConvEngineTest.kernels(kind), budget, targetCols);
                e.splitMode(split);
                for (int i = 0; i < shapes.size(); i++) {
                    float[][] out = runAll(e, shapes.get(i), 1000 + i);
                    if (base[i] == null) {
                        base[i] = out;
                        continue;
                    }
                    for (int op = 0; op < out.length; op++) {
                        assertSameBits(base[i][op], out[op], kind + " " + OPS[op] + " " + shapes.get(i) + " at " + threads + " threads vs 1");
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} kernels")
    @ValueSource(strings = {"vector", "scalar"})
    void everyOpHasTheSameBitsForEveryThreadCount(String kind) {
        compareThreadCounts(kind, ColumnConvEngine.DEFAULT_BUDGET, ColumnConvEngine.DEFAULT_TARGET_COLS);
    }

    @ParameterizedTest(name = "{0} kernels, small workspace")
    @ValueSource(strings = {"vector", "scalar"})
    void everyOpHasTheSameBitsWithASmallWorkspace(String kind) {
        compareThreadCounts(kind, 3000, 48);
    }

    @ParameterizedTest(name = "{0} kernels, batch 1 shifted")
    @ValueSource(strings = {"vector", "scalar"})
    void batchOneShiftedForwardHasTheSameBitsForEveryThreadCount(String kind) {
        for (ConvGeometry g : BATCH1_SHIFTED) {
            try (ThreadPool pool = new ThreadPool(1)) {
                assertTrue(new ColumnConvEngine(pool, new ScalarColumnKernels()).plan(g).shifted(), g + " uses the shifted layout");
            }
        }
        compareThreadCounts(kind, ColumnConvEngine.DEFAULT_BUDGET, ColumnConvEngine.DEFAULT_TARGET_COLS, BATCH1_SHIFTED);
    }

    /**
     * The one-unit shifted split by output-channel blocks and by column pieces (either way the pack tasks fill a slice
     * of the channels) give the bits of one thread, which runs neither, on every batch-1 shape, stride 1 and 2.
     */
    @ParameterizedTest(name = "{0} kernels, batch 1 shifted, split {1}")
    @CsvSource({"vector, rows", "vector, columns", "scalar, rows", "scalar, columns"})
    void batchOneShiftedSplitByRowsOrColumnsHasTheSameBits(String kind, String split) {
        compareThreadCounts(kind, ColumnConvEngine.DEFAULT_BUDGET, ColumnConvEngine.DEFAULT_TARGET_COLS, BATCH1_SHIFTED, split);
    }

    /**
     * The eval forward with an {@link OutputMap} (BatchNorm affine, ReLU, residual sum) applied by the engine's threads:
     * every output mapped exactly once, the same bits at 1, 2, 3 and 8 threads as the plain forward followed by the
     * map written out here with Java's {@code Math.max} (the passes' arithmetic), on every shape above (batch 1 split
     * by channel blocks or by columns, small batches, explicit pieces) and with a tiny workspace.
     */
    @ParameterizedTest(name = "{0} kernels, fused output map")
    @ValueSource(strings = {"vector", "scalar"})
    void theFusedOutputMapGivesThePassesBitsForEveryThreadCount(String kind) {
        List<ConvGeometry> shapes = new java.util.ArrayList<>(SHAPES);
        shapes.addAll(BATCH1_SHIFTED);
        shapes.add(new ConvGeometry(3, 16, 8, 8, 64, 3, 1, 1));      // batch 3 on 2 threads: 3 units
        shapes.add(new ConvGeometry(2, 6, 7, 9, 10, 3, 1, 1));       // batch 2, 10 channels: odd blocks
        for (int[] sizes : new int[][] {{ColumnConvEngine.DEFAULT_BUDGET, ColumnConvEngine.DEFAULT_TARGET_COLS}, {3000, 48}}) {
            for (int threads : THREADS) {
                try (ThreadPool pool = new ThreadPool(threads)) {
                    ColumnConvEngine e = new ColumnConvEngine(pool, ConvEngineTest.kernels(kind), sizes[0], sizes[1]);
                    for (int i = 0; i < shapes.size(); i++) {
                        ConvGeometry g = shapes.get(i);
                        Rng r = new Rng(77 + i);
                        float[] x = gaussian(r, g.inputSize(), 1.0), w = gaussian(r, g.filterSize() + 3, 0.7);
                        float[] res = gaussian(r, g.outputSize(), 3.0);
                        // The running mean as two floats (hi + lo), as BatchNorm2d splits it; adder outputs are large negative sums.
                        float[] meanHi = new float[g.o()], meanLo = new float[g.o()], scale = new float[g.o()], beta = new float[g.o()];
                        for (int c = 0; c < g.o(); c++) {
                            double mean = -g.kk() * (0.5 + r.nextDouble());
                            meanHi[c] = (float) mean;
                            meanLo[c] = (float) (mean - meanHi[c]);
                            scale[c] = (float) ((0.5 + r.nextDouble()) / Math.sqrt(g.kk()));
                            beta[c] = (float) r.nextGaussian();
                        }
                        for (int a = 0; a < 2; a++) {
                            boolean adder = a == 0;
                            float[] plain = new float[g.outputSize()];
                            if (adder) e.adderForward(g, x, w, 3, plain);
                            else e.convForward(g, x, w, 3, plain);
                            for (int variant = 0; variant < 3; variant++) {
                                boolean relu = variant == 1;
                                float[] s = variant == 2 ? res : null;
                                float[] want = new float[plain.length];
                                for (int j = 0; j < plain.length; j++) {
                                    int c = j / g.positions() % g.o();
                                    float v = ((plain[j] - meanHi[c]) - meanLo[c]) * scale[c] + beta[c];
                                    if (relu) v = Math.max(v, 0f);
                                    if (s != null) v = Math.max(v + s[j], 0f);
                                    want[j] = v;
                                }
                                float[] got = new float[g.outputSize()];
                                java.util.Arrays.fill(got, Float.NaN);
                                OutputMap map = new OutputMap(meanHi, meanLo, scale, beta, relu, s);
                                if (adder) e.adderForward(g, x, w, 3, got, map);
                                else e.convForward(g, x, w, 3, got, map);
                                assertSameBits(want, got, kind + (adder ? " adder" : " conv") + " map " + variant + " " + g + " at " + threads
                                        + " threads, budget " + sizes[0]);
                            }
                        }
                    }
                }
            }
        }
    }

    /** The plan never sees the thread count, and the shapes above exercise several groups and both layouts. */
    @Test
    void planDependsOnTheGeometryOnly() {
        int shifted = 0, grouped = 0, sixteen = 0;
        for (ConvGeometry g : SHAPES) {
            ColumnConvEngine.Plan first = null;
            for (int threads : THREADS) {
                try (ThreadPool pool = new ThreadPool(threads)) {
                    ColumnConvEngine.Plan p = new ColumnConvEngine(pool, new ScalarColumnKernels()).plan(g);
                    if (first == null) first = p;
                    assertEquals(first, p, g + " at " + threads + " threads");
                }
            }
            if (first.shifted()) shifted++;
            if (first.groups() > 1) grouped++;
            if (first.groups() == ColumnConvEngine.GROUPS) sixteen++;
            assertTrue(first.groups() >= 1 && first.groups() <= Math.min(first.chunks(), ColumnConvEngine.GROUPS), g + " " + first);
        }
        assertTrue(shifted >= 3 && grouped >= 5 && sixteen >= 1, "shifted " + shifted + ", grouped " + grouped + ", 16 groups " + sixteen);
    }
}
