package org.addernet.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import org.addernet.engine.Rng;
import org.addernet.engine.ThreadPool;
import org.junit.jupiter.api.Test;

/**
 * The vector kernels' bits are pinned, so that a faster register blocking cannot change a result.
 *
 * <p>Kernel level, against independent exact references on every block remainder (o and kk from 1 up, ld one
 * to four panels): the adder forward equals {@link ScalarColumnKernels} bit for bit (the {@link ColumnKernels}
 * contract), and the adder input gradient equals a scalar loop of {@code Math.fma(clamp(w - x), dy, acc)}, o
 * ascending from +0 (one rounding per term, as the vector FMA). Inputs are quantized to quarters on half the
 * cases, so differences of exactly 0 and +-1 (the clamp's edges) and zero sums occur.
 *
 * <p>Engine level: a hash of the raw float bits of every op's outputs (adder and conv forward, input and filter
 * gradient) on 18 shapes, recorded with the kernels as they were before the register blocks were enlarged
 * (commit 5c24dfa): the filter gradients and the conv ops have no independent bit-exact reference here.
 */
class KernelBitsTest {
    private static final ColumnKernels VECTOR = ConvEngineTest.kernels("vector");

    /** Gaussian values times {@code scale}, quantized to quarters if asked (exact sums); shared with ConvEngineInterleaveTest. */
    /** Row k of a kernel's x at {@code k * (ld + 3) + k % 3}: scattered offsets, as in the shifted layout. */
    static int[] scatteredRows(int kk, int ld) {
        int[] xRow = new int[kk];
        for (int k = 0; k < kk; k++) xRow[k] = k * (ld + 3) + (k % 3);
        return xRow;
    }

    static float[] values(Rng r, int size, double scale, boolean quantized) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) {
            double v = r.nextGaussian() * scale;
            a[i] = quantized ? (float) (Math.rint(v * 4) / 4) : (float) v;
        }
        return a;
    }

    /** dx[k*ld + p] = sum_o fma(clamp(wt[k*O + o] - x[xRow[k] + p], -1, 1), dy[o*ld + p], acc), o ascending. */
    private static void inputGradReference(int o, int kk, int ld, float[] wt, float[] x, int[] xRow, float[] dy, float[] dx) {
        for (int k = 0; k < kk; k++) {
            for (int p = 0; p < ld; p++) {
                float acc = 0f;
                for (int r = 0; r < o; r++) {
                    float d = wt[k * o + r] - x[xRow[k] + p];
                    float c = d > 1f ? 1f : d < -1f ? -1f : d;
                    acc = Math.fma(c, dy[r * ld + p], acc);
                }
                dx[k * ld + p] = acc;
            }
        }
    }

    @Test
    void adderForwardAndInputGradMatchExactReferencesOnEveryBlockShape() {
        ColumnKernels scalar = new ScalarColumnKernels();
        int m = VECTOR.columnMultiple(), cases = 0;
        int[] os = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 17};
        int[] kks = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 27, 33, 40};
        for (int o : os) {
            for (int kk : kks) {
                for (int panels = 1; panels <= 4; panels++) {
                    int ld = panels * m;
                    boolean quantized = (o + kk + panels) % 2 == 0;
                    Rng r = new Rng(31L * o + 7L * kk + panels);
                    // Rows of x at scattered offsets (as in the shifted layout), the filters at an offset.
                    int[] xRow = scatteredRows(kk, ld);
                    float[] x = values(r, kk * (ld + 3) + 3, 1.0, quantized);
                    float[] w = values(r, o * kk + 5, 0.8, quantized);
                    float[] want = new float[o * ld], got = new float[o * ld];
                    scalar.adderForward(o, kk, ld, w, 5, x, xRow, want);
                    VECTOR.adderForward(o, kk, ld, w, 5, x, xRow, got);
                    String what = "o " + o + ", kk " + kk + ", ld " + ld;
                    ThreadCountBitsTest.assertSameBits(want, got, "adder forward " + what);
                    float[] wt = values(r, kk * o, 0.8, quantized), dy = values(r, o * ld, 1.0, quantized);
                    float[] dxWant = new float[kk * ld], dxGot = new float[kk * ld];
                    inputGradReference(o, kk, ld, wt, x, xRow, dy, dxWant);
                    VECTOR.adderInputGrad(o, kk, ld, wt, 0, x, xRow, dy, dxGot);
                    ThreadCountBitsTest.assertSameBits(dxWant, dxGot, "adder input grad " + what);
                    cases++;
                }
            }
        }
        assertEquals(os.length * kks.length * 4, cases);
    }

    /**
     * dw[o][k] += sum of L lane sums, lane j summing fma(dy[o][p], x[k][p] - w[o][k], acc) over p = j, j + L, ...
     * ascending, the lanes then added in lane order from +0 (the vector kernels' order, whatever the block).
     * With {@code w == null} the conv filter gradient (x instead of x - w).
     */
    private static void adderFilterGradReference(int lanes, int o, int kk, int ld, float[] dy, float[] x, int[] xRow,
                                                 float[] w, int wOff, float[] dw) {
        for (int r = 0; r < o; r++) {
            for (int k = 0; k < kk; k++) {
                float wk = w == null ? 0f : w[wOff + r * kk + k];
                float[] acc = new float[lanes];
                for (int p = 0; p < ld; p++) {
                    float v = w == null ? x[xRow[k] + p] : x[xRow[k] + p] - wk;
                    acc[p % lanes] = Math.fma(dy[r * ld + p], v, acc[p % lanes]);
                }
                float s = 0f;
                for (float a : acc) s += a;
                dw[r * kk + k] += s;
            }
        }
    }

    /**
     * The strided filter gradients (a K-chunk read from W with row stride ws and added into an O x K partial at
     * dwOff with row stride ds, as the chunked backward calls them): every element equals the unstrided call on
     * the compacted block, bit for bit (vector kernels: also the lane-order reference), and nothing outside the
     * block's elements is touched. Both kernel sets.
     */
    @Test
    void stridedFilterGradsAddInPlaceWithTheUnstridedBits() {
        int lanes = Integer.parseInt(VECTOR.name().substring("vector-".length()));
        int m = VECTOR.columnMultiple(), cases = 0;
        for (ColumnKernels kern : List.of(VECTOR, new ScalarColumnKernels())) {
            for (int o : new int[] {1, 4, 5, 9}) {
                for (int kk : new int[] {1, 3, 7, 12, 40, 97}) {
                    int ld = kk == 97 ? 4096 : 3 * m, ws = kk + 7, ds = kk + 2, wOff = 4, dwOff = 3;
                    Rng r = new Rng(7L * o + 3L * kk);
                    int[] xRow = scatteredRows(kk, ld);
                    float[] x = values(r, kk * (ld + 3) + 3, 1.0, kk % 2 == 0), dy = values(r, o * ld, 1.0, false);
                    float[] wWide = values(r, wOff + o * ws, 0.8, false), w = new float[o * kk];
                    float[] dwWide = values(r, dwOff + o * ds + 2, 0.1, false), dw = new float[o * kk];
                    for (int i = 0; i < o; i++) {
                        System.arraycopy(wWide, wOff + i * ws, w, i * kk, kk);
                        System.arraycopy(dwWide, dwOff + i * ds, dw, i * kk, kk);
                    }
                    float[] before = dwWide.clone(), cdw = dw.clone(), cBefore = dwWide.clone(), cWide = dwWide.clone();
                    kern.adderFilterGrad(o, kk, ld, dy, x, xRow, w, 0, dw);
                    kern.adderFilterGrad(o, kk, ld, dy, x, xRow, wWide, wOff, ws, dwWide, dwOff, ds);
                    kern.filterGrad(o, kk, ld, dy, x, xRow, cdw);
                    kern.filterGrad(o, kk, ld, dy, x, xRow, cWide, dwOff, ds);
                    if (kern == VECTOR) {
                        float[] want = new float[o * kk];
                        for (int i = 0; i < o; i++) System.arraycopy(before, dwOff + i * ds, want, i * kk, kk);
                        adderFilterGradReference(lanes, o, kk, ld, dy, x, xRow, w, 0, want);
                        ThreadCountBitsTest.assertSameBits(want, dw, "reference, o " + o + ", kk " + kk);
                    }
                    float[] got = new float[o * kk], cGot = new float[o * kk];
                    for (int i = 0; i < o; i++) {
                        System.arraycopy(dwWide, dwOff + i * ds, got, i * kk, kk);
                        System.arraycopy(cWide, dwOff + i * ds, cGot, i * kk, kk);
                        // the gaps between the rows and the ends keep their values
                        for (int j = kk; j < ds && dwOff + i * ds + j < dwWide.length; j++) {
                            assertEquals(Float.floatToRawIntBits(before[dwOff + i * ds + j]),
                                    Float.floatToRawIntBits(dwWide[dwOff + i * ds + j]), kern.name() + " gap touched");
                            assertEquals(Float.floatToRawIntBits(cBefore[dwOff + i * ds + j]),
                                    Float.floatToRawIntBits(cWide[dwOff + i * ds + j]), kern.name() + " conv gap touched");
                        }
                    }
                    for (int j = 0; j < dwOff; j++) assertEquals(before[j], dwWide[j], kern.name() + " head touched");
                    ThreadCountBitsTest.assertSameBits(dw, got, kern.name() + " adder, o " + o + ", kk " + kk);
                    ThreadCountBitsTest.assertSameBits(cdw, cGot, kern.name() + " conv, o " + o + ", kk " + kk);
                    cases++;
                }
            }
        }
        assertEquals(2 * 4 * 6, cases);
    }

    @Test
    void filterGradsMatchTheLaneOrderReferenceOnEveryBlockShapeAndTile() {
        int lanes = Integer.parseInt(VECTOR.name().substring("vector-".length()));
        int m = VECTOR.columnMultiple(), cases = 0;
        int[] os = {1, 3, 4, 5, 8, 9, 13};
        // kk past one k tile (VectorColumnKernels.tileRows) on the widest ld, and every remainder of the 4 x 2 block
        int[] kks = {1, 2, 3, 4, 5, 6, 7, 11, 13, 40, 97};
        for (int o : os) {
            for (int kk : kks) {
                for (int ld : new int[] {m, 3 * m, 4096}) {
                    boolean quantized = (o + kk) % 2 == 0;
                    Rng r = new Rng(13L * o + 5L * kk + ld);
                    int[] xRow = scatteredRows(kk, ld);
                    float[] x = values(r, kk * (ld + 3) + 3, 1.0, quantized);
                    float[] w = values(r, o * kk + 5, 0.8, quantized), dy = values(r, o * ld, 1.0, quantized);
                    float[] want = values(r, o * kk, 0.1, false), got = want.clone();
                    adderFilterGradReference(lanes, o, kk, ld, dy, x, xRow, w, 5, want);
                    VECTOR.adderFilterGrad(o, kk, ld, dy, x, xRow, w, 5, got);
                    ThreadCountBitsTest.assertSameBits(want, got, "adder filter grad o " + o + ", kk " + kk + ", ld " + ld);
                    float[] convWant = values(r, o * kk, 0.1, false), convGot = convWant.clone();
                    adderFilterGradReference(lanes, o, kk, ld, dy, x, xRow, null, 0, convWant);
                    VECTOR.filterGrad(o, kk, ld, dy, x, xRow, convGot);
                    ThreadCountBitsTest.assertSameBits(convWant, convGot, "conv filter grad o " + o + ", kk " + kk + ", ld " + ld);
                    cases++;
                }
            }
        }
        assertTrue(VectorColumnKernels.tileRows(4096) < 97, "the widest case must span several k tiles");
        // The other tests then run the larger blocks that are used only when C1 is kept off the kernels.
        assertTrue(VectorColumnKernels.C1_EXCLUDED, "the C1 exclusion directive was not installed");
        assertEquals(os.length * kks.length * 3, cases);
    }

    /**
     * The conv forward's blocked sums, element by element: per block of KB taps {@code s} from +0 in k order
     * ({@code fma} for the vector kernels, a rounded product then an add for the scalar ones), the block sums added
     * in order after the first block's (or after {@code out}'s old value with {@code accumulate}).
     */
    private static void convForwardReference(boolean fma, int o, int kk, int ld, float[] w, int wOff, int ws, float[] x, int[] xRow,
                                             float[] out, boolean accumulate) {
        for (int r = 0; r < o; r++) {
            for (int p = 0; p < ld; p++) {
                float t = out[r * ld + p];
                for (int k0 = 0; k0 < kk; k0 += ColumnKernels.KB) {
                    float s = 0f;
                    for (int k = k0; k < Math.min(kk, k0 + ColumnKernels.KB); k++) {
                        float a = w[wOff + r * ws + k], b = x[xRow[k] + p];
                        s = fma ? Math.fma(a, b, s) : s + a * b;
                    }
                    t = accumulate || k0 > 0 ? t + s : s;
                }
                out[r * ld + p] = t;
            }
        }
    }

    @Test
    void convForwardAddsBlockSumsInOrderOnEveryBlockShape() {
        int cases = 0;
        for (ColumnKernels kern : List.of(VECTOR, ConvEngineTest.kernels("scalar"))) {
            boolean fma = kern == VECTOR;
            int m = kern.columnMultiple();
            for (int o : new int[] {1, 3, 4, 7, 8}) {
                for (int kk : new int[] {1, 5, 16, 17, 40, 147}) {
                    for (int ld : new int[] {m, 4 * m, 5 * m}) {
                        for (boolean accumulate : new boolean[] {false, true}) {
                            Rng r = new Rng(7L * o + 3L * kk + ld + (accumulate ? 1 : 0));
                            int[] xRow = scatteredRows(kk, ld);
                            int ws = kk + 2;
                            float[] x = values(r, kk * (ld + 3) + 3, 1.0, false), w = values(r, 1 + o * ws, 0.5, false);
                            float[] want = values(r, o * ld, 1.0, false), got = want.clone();
                            convForwardReference(fma, o, kk, ld, w, 1, ws, x, xRow, want, accumulate);
                            kern.convForward(o, kk, ld, w, 1, ws, x, xRow, got, accumulate);
                            ThreadCountBitsTest.assertSameBits(want, got, kern.name() + " conv forward o " + o + ", kk " + kk + ", ld " + ld
                                    + (accumulate ? ", accumulate" : ""));
                            cases++;
                        }
                    }
                }
            }
        }
        assertEquals(2 * 5 * 6 * 3 * 2, cases);
    }

    static final List<ConvGeometry> SHAPES;

    static {
        List<ConvGeometry> s = new ArrayList<>(ThreadCountBitsTest.SHAPES);
        s.add(new ConvGeometry(4, 16, 32, 32, 16, 3, 1, 1));  // ResNet-20 stage 1
        s.add(new ConvGeometry(3, 32, 16, 16, 30, 3, 1, 1));  // o not a multiple of 4
        s.add(new ConvGeometry(2, 64, 8, 8, 64, 3, 1, 1));    // ResNet-20 stage 3
        s.add(new ConvGeometry(1, 128, 7, 7, 130, 3, 1, 1));  // wide, small maps
        SHAPES = List.copyOf(s);
    }

    /**
     * FNV-1a over the raw bits of every op's outputs, recorded with the kernels of commit 5c24dfa (vector-16, 2 threads;
     * the engine gives the same bits for any thread count, ThreadCountBitsTest). Moved since: 23,16,16,16,32,3,2,1
     * (0x4d2a919edd432f2dL before) when stride-2 layers took the phase-split shifted layout: its forward and input
     * gradients keep their bits (ConvEnginePhaseTest compares them with the explicit plan), its filter gradients sum
     * the columns in another lane split (phase-plane columns, 17 per output row of 16 here, instead of the explicit
     * im2col's); the 1x1 stride-2 shape's phased columns are the explicit ones, so it kept every bit.
     */
    private static final long[] PINNED = {
        0x6da571aee1546897L, 0xf088ec4c3bcd0435L, 0x9b09863e97f68831L,
        0x901e0fcff42781faL, 0x4a437f8718ca31feL, 0x6b4b4573f40189d7L,
        0x4bd4ab9128a53f8eL, 0x69541afdc11d9addL, 0xc77abb9022826711L,
        0xc0dd42f8ae059cd2L, 0xc80a850d75630f61L, 0xd1501813c1477a6dL,
        0xf673db74cbb4ad56L, 0xbf2bbfb7a04aa6f5L, 0xc8cfc37d5c69dddbL,
        0x71c56cae4ef48a94L, 0x8e0b3d2e977b86c8L, 0x386d9623edf10076L
    };

    private static long hash(long h, float[] a) {
        for (float v : a) {
            int b = Float.floatToRawIntBits(v);
            for (int i = 0; i < 4; i++) {
                h ^= (b >>> (8 * i)) & 0xff;
                h *= 0x100000001b3L;
            }
        }
        return h;
    }

    private static long opsHash(ConvEngine e, ConvGeometry g, long seed) {
        Rng r = new Rng(seed);
        boolean quantized = seed % 2 == 0;
        float[] x = values(r, g.inputSize(), 1.0, quantized), w = values(r, g.filterSize() + 3, 0.7, quantized);
        float[] dy = values(r, g.outputSize(), 1.0, quantized), dw0 = values(r, g.filterSize() + 5, 0.1, false);
        long h = 0xcbf29ce484222325L;
        for (int a = 0; a < 2; a++) {
            float[] y = new float[g.outputSize()], dx = new float[g.inputSize()], dw = dw0.clone();
            if (a == 0) {
                e.adderForward(g, x, w, 3, y);
                e.adderBackward(g, x, w, 3, dy, dx, dw, 2);
            } else {
                e.convForward(g, x, w, 3, y);
                e.convBackward(g, x, w, 3, dy, dx, dw, 2);
            }
            h = hash(hash(hash(h, y), dx), dw);
        }
        return h;
    }

    @Test
    void everyOpKeepsItsPinnedBits() {
        // The filter gradients' lane-ordered sums depend on the vector width: the hashes are those of 16 lanes.
        assumeTrue(VECTOR.name().equals("vector-16"), "pinned for vector-16, running " + VECTOR.name());
        long[] got = new long[SHAPES.size()];
        try (ThreadPool pool = new ThreadPool(2)) {
            ColumnConvEngine e = new ColumnConvEngine(pool, VECTOR);
            for (int i = 0; i < SHAPES.size(); i++) got[i] = opsHash(e, SHAPES.get(i), 500 + i);
        }
        StringBuilder table = new StringBuilder();
        for (long v : got) table.append(String.format("0x%016xL, ", v));
        assertEquals(SHAPES.size(), PINNED.length, "pinned hashes: " + table);
        for (int i = 0; i < got.length; i++) {
            assertTrue(got[i] == PINNED[i], SHAPES.get(i) + ": bits changed; hashes now " + table);
        }
    }
}
