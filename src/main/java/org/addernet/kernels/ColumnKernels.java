package org.addernet.kernels;

/**
 * Microkernels over column matrices, the inner loops of {@link ColumnConvEngine}.
 *
 * <p>Layouts (flat {@code float[]}, leading dimension {@code ld}, a multiple of {@link #columnMultiple()}; every
 * kernel runs over all {@code ld} columns, so extra columns must hold finite values and those of {@code dy}
 * must be 0, which makes them contribute nothing to the gradients):
 * <pre>
 *   x         K rows: row k is x[xRow[k] .. xRow[k] + ld), column p = (sample, i, j) of the chunk. With an
 *             explicit im2col xRow[k] = k*ld; with the shifted layout (stride 1) rows are overlapping
 *             windows of one zero-padded image buffer, see {@link Im2col}
 *   dx        K x ld   row-major, dx[k*ld + p]
 *   y, dy     O x ld   row-major
 *   w         O x K    at wOff: filter row o is K contiguous floats (OIHW)
 *   wt        K x O    the transposed filters, at offset 0
 *   dw        O x K    a partial filter gradient, at offset 0
 * </pre>
 * Implementations are stateless and called concurrently from the engine's threads on disjoint outputs.
 * Every sum over the reduction index runs in a fixed order, so results are bit-reproducible.
 */
interface ColumnKernels {
    /**
     * Reduction block of the forward sums (adder and conv forward): each block of KB taps is summed on its own and
     * the block results are added to the output in order (the adder forward does it inside the kernel,
     * {@link #convForward} for the conv forward): an adder output is a
     * sum of C*k*k positive terms whose total dwarfs its spread over the batch, and the BatchNorm after it
     * amplifies what one running float sum loses. Measured on the float64 golden training steps (bound 1e-4):
     * ResNet-20 adder 2.4e-4 with one running sum, 6e-5 with blocks of 16; LeNet-5-BN CNN 1.1e-4 with blocks of
     * 32, 4e-5 with 16.
     */
    int KB = 16;
    /** Short name for logs, e.g. {@code vector-16}. */
    String name();

    /** The leading dimension must be a multiple of this (and of 16). */
    int columnMultiple();

    /**
     * {@code y[o][p] = -sum_k |w[o][k] - x[k][p]|} in blocks of {@link #KB} taps: each block's sum
     * {@code b = -|w[k0] - x[k0]| - |w[k0+1] - x[k0+1]| ...} is taken in k order from 0, and y is the first block's
     * sum plus the following blocks' sums, added in order.
     */
    void adderForward(int o, int kk, int ld, float[] w, int wOff, float[] x, int[] xRow, float[] y);

    /**
     * The adder forward for inputs that are all +0 or positive and finite (every layer's after the first: they follow
     * a ReLU), with 2 operations per term instead of 3: {@code |w - x| = 2 max(w, x) - w - x}. Per block b of
     * {@link #KB} taps, from +0 in k order, {@code M[p] = sum max(w[o][k], x[k][p])}, {@code X[p] = sum x[k][p]} and
     * {@code W = sum w[o][k]}; {@code d = fma(M, 2, (-W) - X)}; y is {@code 0 - d_0 - d_1 ...} in block order. Not
     * the bits of {@link #adderForward}: 2M and W + X are about 2-3x the block's sum of |w - x|, so d carries a few
     * times its rounding error (measured on the golden cases: within their bounds, see AdderForwardNonNegativeTest).
     * Columns beyond the valid ones may hold any finite values (their outputs are finite, and discarded).
     */
    void adderForwardNonNegative(int o, int kk, int ld, float[] w, int wOff, float[] x, int[] xRow, float[] y);

    /** Whether every {@code x[from, to)} is +0 or positive and finite ({@link #adderForwardNonNegative} applies). */
    boolean nonNegativeFinite(float[] x, int from, int to);

    /**
     * One K-chunk of the adder forward for cache blocking over K ({@link ColumnConvEngine}): the taps
     * {@code [k0, k0 + kk)} of every output, {@code k0} a multiple of {@link #KB}, filter row {@code o} at
     * {@code wOff + o*wStride} (so {@code wOff} points at tap k0 of row 0), x rows {@code xRow[0..kk)} for those taps.
     * Adds the chunk's block sums, kept positive ({@code s = |x - w| + s} from +0 over a block's taps), to the
     * running totals {@code t[o*ld + p] = t + s}, block after block. With t zeroed before the first chunk and
     * {@code y = 0 - t} after the last, y has exactly the bits of {@link #adderForward} (whose contract is the
     * same sums, see the vector kernels' comment on positive sums).
     */
    void adderForwardChunk(int o, int kk, int ld, float[] w, int wOff, int wStride, float[] x, int[] xRow, float[] t);

    /**
     * {@code out[r*ld + p] = sum_i a[aOff + r*inner + i] * b[bRow[i] + p]}: with {@code a = w} and
     * {@code b = x} the conv forward, with {@code a = wt} and {@code b = dy} the conv input gradient.
     */
    void multiply(int rows, int inner, int ld, float[] a, int aOff, float[] b, int[] bRow, float[] out);

    /**
     * The conv forward in blocks of {@link #KB} taps, counted from this call's tap 0:
     * {@code out[r*ld + p] = s_0 + s_1 + ...} in block order, {@code s_b = sum w[wOff + r*ws + k] * x[xRow[k] + p]} over
     * block b's taps in k order from +0; with {@code accumulate} (a K-chunk after the first) the sums are added after
     * out's previous value. The bits of one {@link #multiply} per block, each added with {@link #addTo} (a block sum
     * is never -0, so {@code 0 + s_0 = s_0}), without that form's passes over the whole rows x ld output per block.
     */
    void convForward(int rows, int kk, int ld, float[] w, int wOff, int ws, float[] x, int[] xRow, float[] out, boolean accumulate);

    /**
     * {@code dx[k*ld + p] = sum_o clamp(wt[wtOff + k*O + o] - x[xRow[k] + p], -1, 1) * dy[o*ld + p]}, o ascending
     * ({@code wtOff}: a K-chunk's rows of the whole K x O transpose, read in place).
     */
    void adderInputGrad(int o, int kk, int ld, float[] wt, int wtOff, float[] x, int[] xRow, float[] dy, float[] dx);

    /** {@code dw[o][k] += sum_p dy[o][p] * x[k][p]}, p ascending within each lane (the conv filter gradient). */
    default void filterGrad(int o, int kk, int ld, float[] dy, float[] x, int[] xRow, float[] dw) {
        filterGrad(o, kk, ld, dy, x, xRow, dw, 0, kk);
    }

    /**
     * {@link #filterGrad(int, int, int, float[], float[], int[], float[])} into {@code dw[dwOff + o*dwStride + k]}: a
     * K-chunk's taps go straight into the O x K partial (the same {@code dw += s} per element as through a zeroed
     * scratch: {@code 0 + s = s}, and a lane sum is never -0).
     */
    void filterGrad(int o, int kk, int ld, float[] dy, float[] x, int[] xRow, float[] dw, int dwOff, int dwStride);

    /**
     * The adder's full-precision filter gradient {@code dw[o][k] += sum_p dy[o][p] * (x[k][p] - w[o][k])}, in this
     * direct form rather than as {@code dY.X^T - W * rowsum(dY)}: when filters sit close to their inputs (as adder
     * filters do) the two terms of that identity nearly cancel and float32 keeps too few digits of the difference
     * (measured 1.3e-5 relative error on a golden case whose bound is 1e-5). One subtraction per term more.
     */
    default void adderFilterGrad(int o, int kk, int ld, float[] dy, float[] x, int[] xRow, float[] w, int wOff, float[] dw) {
        adderFilterGrad(o, kk, ld, dy, x, xRow, w, wOff, kk, dw, 0, kk);
    }

    /**
     * {@link #adderFilterGrad(int, int, int, float[], float[], int[], float[], int, float[])} with filter row
     * {@code o} at {@code wOff + o*wStride} and the sums added to {@code dw[dwOff + o*dwStride + k]}: a K-chunk reads
     * its taps of W and adds into the O x K partial in place (same bits as through a zeroed scratch, see
     * {@link #filterGrad(int, int, int, float[], float[], int[], float[], int, int)}).
     */
    void adderFilterGrad(int o, int kk, int ld, float[] dy, float[] x, int[] xRow, float[] w, int wOff, int wStride,
                         float[] dw, int dwOff, int dwStride);

    /** {@code dst[d0 + i] += src[s0 + i]} for i in [0, len), len a multiple of {@link #columnMultiple()}. */
    void addTo(float[] src, int s0, float[] dst, int d0, int len);

}
