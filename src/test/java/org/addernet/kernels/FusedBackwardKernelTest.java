package org.addernet.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.addernet.engine.Rng;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link ColumnKernels#adderInputFilterGrad} (the input and filter gradient in one pass) against the same kernels'
 * {@link ColumnKernels#adderInputGrad} and {@link ColumnKernels#adderFilterGrad} called on their own, bit for bit: dx
 * as the input gradient's o-ascending sums, and the transposed filter gradient {@code dwt[k*O + o]} as the filter
 * gradient of {@code W = wt^T} at {@code dw[o*K + k]}, added onto the same starting values. Block shapes around the
 * vector kernel's 4 taps x 2 vectors and its tiles of 64 filters (o 1-9, 17 and 70, kk 1-5 and 33), column counts of 1, 3 and 160 vectors (160 vectors
 * split K = 33 into several L2 tiles), quantized values for exact ties at the clamp's edges and exact zeros.
 */
class FusedBackwardKernelTest {
    @ParameterizedTest(name = "{0} kernels")
    @ValueSource(strings = {"vector", "scalar"})
    void equalsTheSeparateKernelsBitForBit(String kind) {
        ColumnKernels k = ConvEngineTest.kernels(kind);
        int m = k.columnMultiple(), cases = 0;
        for (int o : new int[] {1, 2, 3, 4, 5, 8, 9, 17, 70}) {
            for (int kk : new int[] {1, 2, 3, 5, 33}) {
                for (int vectors : new int[] {1, 3, 160}) {
                    if (vectors == 160 && o > 5) continue; // the L2-tiled case (kk = 33: 3 tiles), kept small
                    int ld = vectors * m, wtOff = 7, dwOff = 3;
                    Rng r = new Rng(1000L * o + 10L * kk + vectors);
                    boolean quantized = (o + kk) % 2 == 0;
                    float[] x = ConvEngineChunkTest.values(r, kk * ld + 5, 1.0, quantized);
                    float[] wt = ConvEngineChunkTest.values(r, wtOff + kk * o, 0.8, quantized);
                    float[] dy = ConvEngineChunkTest.values(r, o * ld, 1.0, quantized);
                    float[] start = ConvEngineChunkTest.values(r, dwOff + kk * o, 0.1, false);
                    int[] xRow = new int[kk];
                    for (int i = 0; i < kk; i++) xRow[i] = 5 + (kk - 1 - i) * ld; // rows in reverse, off 5
                    float[] dx = new float[kk * ld], dwt = start.clone();
                    java.util.Arrays.fill(dx, Float.NaN); // overwritten
                    k.adderInputFilterGrad(o, kk, ld, wt, wtOff, x, xRow, dy, dx, dwt, dwOff);

                    float[] dxWant = new float[kk * ld];
                    k.adderInputGrad(o, kk, ld, wt, wtOff, x, xRow, dy, dxWant);
                    float[] w = new float[o * kk], dw = new float[o * kk];
                    for (int i = 0; i < o; i++) {
                        for (int j = 0; j < kk; j++) {
                            w[i * kk + j] = wt[wtOff + j * o + i];
                            dw[i * kk + j] = start[dwOff + j * o + i];
                        }
                    }
                    k.adderFilterGrad(o, kk, ld, dy, x, xRow, w, 0, kk, dw, 0, kk);
                    String what = kind + " o " + o + " kk " + kk + " ld " + ld;
                    ThreadCountBitsTest.assertSameBits(dxWant, dx, what + " dx");
                    float[] dwtWant = start.clone();
                    for (int i = 0; i < o; i++) for (int j = 0; j < kk; j++) dwtWant[dwOff + j * o + i] = dw[i * kk + j];
                    ThreadCountBitsTest.assertSameBits(dwtWant, dwt, what + " dw");
                    cases++;
                }
            }
        }
        assertEquals(9 * 5 * 2 + 5 * 5, cases);
    }
}
