package org.addernet.kernels;

/**
 * Microkernels over column matrices, the inner loops of {@link ColumnConvEngine}.
 *
 * <p>Layouts (all row-major flat {@code float[]}, leading dimension {@code ld}, a multiple of
 * {@link #columnMultiple()}; every kernel runs over all {@code ld} columns, so the padded columns must hold
 * finite values and padded columns of {@code dy} must be 0):
 * <pre>
 *   x, dx     K x ld   row r = (c,u,v) of the filter window, column p = (sample, i, j) of the chunk
 *   y, dy     O x ld
 *   w         O x K    at wOff: filter row o is K contiguous floats (OIHW)
 *   wt        K x O    the transposed filters, at offset 0
 *   dw        O x K    a partial filter gradient, at offset 0
 * </pre>
 * Implementations are stateless and called concurrently from the engine's threads on disjoint outputs.
 * Every sum over the reduction index runs in a fixed order, so results are bit-reproducible.
 */
interface ColumnKernels {
    /** Short name for logs, e.g. {@code vector-16}. */
    String name();

    /** The leading dimension must be a multiple of this (and of 16). */
    int columnMultiple();

    /** {@code y[o][p] = -sum_k |w[o][k] - x[k][p]|}, k ascending. */
    void adderForward(int o, int kk, int ld, float[] w, int wOff, float[] x, float[] y);

    /**
     * {@code out[r][p] = sum_i a[r][i] * b[i][p]} for {@code rows x inner} matrix {@code a} at {@code aOff};
     * with {@code a = w} this is the conv forward, with {@code a = wt} and {@code b = dy} the conv input gradient.
     */
    void multiply(int rows, int inner, int ld, float[] a, int aOff, float[] b, float[] out);

    /**
     * {@code dx[k][p] = sum_o clamp(w[o][k] - x[k][p], -1, 1) * dy[o][p]}, o ascending, given
     * {@code wtHi = wt + 1} and {@code wtLo = wt - 1} (both K x O). The clamp is evaluated as
     * {@code (|wtHi - x| - |wtLo - x|) / 2}, which equals it exactly in real arithmetic and costs only
     * subtractions and sign masks (a float min/max with Java's NaN/-0 semantics is several instructions);
     * in float it carries an absolute error of about one ulp of 1 per term.
     */
    void adderInputGrad(int o, int kk, int ld, float[] wtHi, float[] wtLo, float[] x, float[] dy, float[] dx);

    /** {@code dw[o][k] += sum_p dy[o][p] * x[k][p]}, p ascending within each lane. */
    void filterGrad(int o, int kk, int ld, float[] dy, float[] x, float[] dw);

    /** {@code sums[r] += sum_p dy[r][p]} for r in [0, rows). */
    void rowSums(int rows, int ld, float[] dy, float[] sums);
}
