package org.addernet.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.addernet.engine.Rng;
import org.addernet.engine.ThreadPool;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The phase-split shifted layout of strided layers (see {@link Im2col}): 3x3 stride 2 reads four phase planes of
 * the padded input, a 1x1 stride-2 shortcut one, instead of an explicit im2col copy.
 *
 * <p>Checks, on odd and even maps, pad 0/1/3, C not a multiple of 16, batch 1 (the forward's per-thread split of a
 * one-unit batch), default and small workspaces (the latter K-chunked): the adder forward and input gradient equal
 * the exact scalar references of {@link ConvEngineChunkTest}; forward and input gradient of adder and conv equal the
 * explicit im2col plan bit for bit (per-column sums, only the filter gradients' lane split moves); every op has the
 * same bits at 1, 2 and 3 threads and stays within 1e-5 of the float64 {@link ConvReference}.
 */
class ConvEnginePhaseTest {
    static final List<ConvGeometry> SHAPES = List.of(
            new ConvGeometry(5, 12, 9, 9, 7, 3, 2, 1),      // odd input, 5x5 outputs
            new ConvGeometry(4, 16, 16, 16, 32, 3, 2, 1),   // ResNet-20's stride-2 layer, small batch
            new ConvGeometry(3, 20, 14, 13, 9, 3, 2, 1),    // odd width, C = 20
            new ConvGeometry(3, 5, 11, 10, 6, 3, 2, 0),     // pad 0
            new ConvGeometry(1, 24, 15, 15, 8, 3, 2, 1),    // batch 1 (forward split over threads)
            new ConvGeometry(6, 20, 9, 7, 12, 1, 2, 0),     // 1x1 stride 2, odd map: one phase, no junk
            new ConvGeometry(4, 100, 6, 6, 5, 1, 2, 0),     // 1x1 stride 2, K = C = 100
            new ConvGeometry(2, 3, 21, 19, 5, 7, 2, 3),     // 7x7 stride-2 stem, K = 147
            new ConvGeometry(2, 6, 17, 15, 5, 3, 3, 1),     // stride 3: nine phase planes
            new ConvGeometry(4, 40, 8, 8, 16, 3, 2, 1),     // K = 360
            new ConvGeometry(4, 32, 6, 6, 4, 3, 2, 1));     // K = 288: chunked (256 + 32) with the small workspace

    private static final int BUDGET = 20000, TARGET = 256;

    private static ColumnConvEngine engine(ThreadPool pool, String kind, boolean small, boolean phased) {
        return new ColumnConvEngine(pool, ConvEngineTest.kernels(kind), small ? BUDGET : ColumnConvEngine.DEFAULT_BUDGET,
                small ? TARGET : ColumnConvEngine.DEFAULT_TARGET_COLS, ColumnConvEngine.CACHE_FLOATS, phased);
    }

    @ParameterizedTest(name = "{0} kernels")
    @ValueSource(strings = {"vector", "scalar"})
    void phasedPlansMatchExactReferencesAndTheExplicitPlan(String kind) {
        int phasedPlans = 0, chunked = 0;
        for (boolean small : new boolean[] {false, true}) {
            float[][][] base = new float[SHAPES.size()][][];
            for (int threads : new int[] {1, 2, 3}) {
                try (ThreadPool pool = new ThreadPool(threads)) {
                    ColumnConvEngine e = engine(pool, kind, small, true), explicit = engine(pool, kind, small, false);
                    boolean fma = !e.kernelName().equals("scalar");
                    for (int i = 0; i < SHAPES.size(); i++) {
                        ConvGeometry g = SHAPES.get(i);
                        String what = kind + " " + g + (small ? " small" : "") + " at " + threads + " threads";
                        ColumnConvEngine.Plan p = e.plan(g);
                        float[][] out = ConvEngineChunkTest.runAll(e, g, 700 + i);
                        if (base[i] == null) {
                            base[i] = out;
                            if (p.shifted()) phasedPlans++;
                            if (p.shifted() && p.chunked(g)) chunked++;
                            assertTrue(!explicit.plan(g).shifted(), g + " explicit " + explicit.plan(g));
                            ConvEngineChunkTest.checkReference(g, 700 + i, out);
                            float[][] want = ConvEngineChunkTest.runAll(explicit, g, 700 + i);
                            for (int op : new int[] {0, 1, 3, 4}) {
                                ThreadCountBitsTest.assertSameBits(want[op], out[op], "op " + op + " vs explicit, " + what);
                            }
                            exactReferences(e, g, 40 + i, fma, what);
                            continue;
                        }
                        for (int op = 0; op < out.length; op++) {
                            ThreadCountBitsTest.assertSameBits(base[i][op], out[op], "op " + op + " " + what);
                        }
                    }
                }
            }
        }
        // Every shape is phased with the default workspace; the small one still fits most and chunks K = 360.
        assertTrue(phasedPlans >= SHAPES.size() + 5, phasedPlans + " phased plans of " + 2 * SHAPES.size());
        assertTrue(chunked >= 1, chunked + " chunked phased plans");
    }

    /** The adder forward and input gradient against the exact references, quantized inputs on every other seed. */
    private static void exactReferences(ConvEngine e, ConvGeometry g, long seed, boolean fma, String what) {
        Rng r = new Rng(seed);
        boolean quantized = seed % 2 == 0;
        float[] x = ConvEngineChunkTest.values(r, g.inputSize(), 1.0, quantized);
        float[] w = ConvEngineChunkTest.values(r, g.filterSize() + 3, 0.8, quantized);
        float[] dy = ConvEngineChunkTest.values(r, g.outputSize(), 1.0, quantized);
        float[] y = new float[g.outputSize()], dx = new float[g.inputSize()];
        e.adderForward(g, x, w, 3, y);
        ThreadCountBitsTest.assertSameBits(ConvEngineChunkTest.forwardReference(g, x, w, 3), y, "adder forward " + what);
        e.adderBackward(g, x, w, 3, dy, dx, null, 0);
        ThreadCountBitsTest.assertSameBits(ConvEngineChunkTest.inputGradReference(g, x, w, 3, dy, fma), dx, "adder input grad " + what);
    }

    /**
     * A phased piece with K > KC_SHIFTED whose K x columns pass CACHE_FLOATS walks K in chunks on the same pieces
     * (ResNet-18's 56x56 -> 28x28 layer): every op keeps its bits, filter gradients included.
     */
    @ParameterizedTest(name = "{0} kernels")
    @ValueSource(strings = {"vector", "scalar"})
    void chunkingAPhasedPieceKeepsEveryBit(String kind) {
        int chunked = 0;
        try (ThreadPool pool = new ThreadPool(2)) {
            ColumnKernels k = ConvEngineTest.kernels(kind);
            int b = ColumnConvEngine.DEFAULT_BUDGET, t = ColumnConvEngine.DEFAULT_TARGET_COLS;
            ColumnConvEngine whole = new ColumnConvEngine(pool, k, b, t, Integer.MAX_VALUE, true);
            ColumnConvEngine cut = new ColumnConvEngine(pool, k, b, t, 0, true);
            for (ConvGeometry g : List.of(new ConvGeometry(4, 32, 6, 6, 4, 3, 2, 1), new ConvGeometry(4, 40, 8, 8, 16, 3, 2, 1),
                    new ConvGeometry(3, 33, 11, 9, 8, 3, 2, 1))) {
                ColumnConvEngine.Plan pw = whole.plan(g), pc = cut.plan(g);
                assertTrue(pw.shifted() && !pw.chunked(g) && pc.shifted() && pc.chunked(g), pw + " " + pc);
                assertEquals(pw.maxCols(), pc.maxCols(), g + " pieces");
                chunked++;
                float[][] want = ConvEngineChunkTest.runAll(whole, g, 950), got = ConvEngineChunkTest.runAll(cut, g, 950);
                for (int op = 0; op < 6; op++) ThreadCountBitsTest.assertSameBits(want[op], got[op], kind + " op " + op + " " + g);
            }
        }
        assertEquals(3, chunked);
    }

    /** The ImageNet stem at 224 keeps its explicit plan (one phased sample would not fit a piece); ResNet's strided layers do not. */
    @ParameterizedTest(name = "{0} kernels")
    @ValueSource(strings = {"vector"})
    void planChoices(String kind) {
        try (ThreadPool pool = new ThreadPool(1)) {
            ColumnConvEngine e = engine(pool, kind, false, true), explicit = engine(pool, kind, false, false);
            ConvGeometry stem = new ConvGeometry(32, 3, 224, 224, 64, 7, 2, 3);
            assertEquals(explicit.plan(stem), e.plan(stem));
            for (ConvGeometry g : List.of(new ConvGeometry(256, 16, 32, 32, 32, 3, 2, 1), new ConvGeometry(256, 32, 16, 16, 64, 3, 2, 1),
                    new ConvGeometry(256, 16, 32, 32, 32, 1, 2, 0), new ConvGeometry(32, 64, 56, 56, 128, 3, 2, 1),
                    new ConvGeometry(32, 256, 14, 14, 512, 3, 2, 1), new ConvGeometry(32, 1024, 14, 14, 2048, 1, 2, 0))) {
                assertTrue(e.plan(g).shifted(), g + " " + e.plan(g));
            }
        }
    }
}
