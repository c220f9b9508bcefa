package org.addernet.kernels;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Development harness: which FP pipes the adder microkernels' arithmetic uses (Zen 5: FMA/MUL on two pipes, FADD
 * on the other two). Copies of the kernels' register blocks, each written several ways that give the same bits
 * (b - x = fma(-1, x, b), s + t = fma(1, s, t): -x and 1 * s are exact), timed on one thread in thread CPU time
 * (a port-bound loop's rate per CPU-second hardly depends on the load), variants alternated in rounds so that
 * drifts hit all of them. One op = one lane of one accumulate, as in the kernel benchmark. Groups: fwd (the
 * forward 2 x 4 block, sizes -Dfo/-Dfk/-Dfld), peak (LayerProfile's peak loop), igrad (the input gradient's 4 x 2
 * block), cal (16 independent FMA, add, or 8 + 8 chains without loads: the pipes' throughput). Results of
 * 2026-12-02 (loaded machine): VectorColumnKernels, "Sums of the adder forward". A copy here compiles alone, not
 * with the kernels' inlining budget: check a form in the engine too (addernet bench --shape S --op adder_forward
 * --count N, gops_per_cpu_s, alternating builds) and with -XX:+PrintInlining for failed store intrinsics.
 *
 * <p>Run (C1 is kept away by a directive added here, C2 compiles after a tenth of the usual counts):
 * {@code java $(grep -v '^#' conf/jvm-options.txt) -cp target/classes:target/test-classes org.addernet.kernels.PortBench [rounds] [ms per variant]}
 */
final class PortBench {
    private PortBench() {
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> SI = IntVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final int KB = ColumnKernels.KB;
    private static final FloatVector ZERO = FloatVector.zero(S), ONE = ZERO.broadcast(1f), NEG_ONE = ZERO.broadcast(-1f),
            NEG_ZERO = ZERO.broadcast(-0f);
    private static final IntVector SIGN = IntVector.broadcast(SI, 0x80000000), ONE_BITS_V = IntVector.broadcast(SI, 0x3f800000),
            ABS = IntVector.broadcast(SI, 0x7fffffff);

    interface Variant {
        /** Runs once; returns lane ops done. */
        long run();
    }

    // Forward data: the first ResNet-20 layer's unit, K = 144 rows x 2048 columns, 16 filters.
    static final int FO = Integer.getInteger("fo", 16), FK = Integer.getInteger("fk", 144), FLD = Integer.getInteger("fld", 2048);
    static final float[] FX = new float[FK * FLD], FW = new float[FO * FK], FY = new float[FO * FLD];
    static final int[] FROW = new int[FK];
    // Input-gradient data: O = 32, K = 288, 1024 columns.
    static final int GO = 32, GK = 288, GLD = 1024;
    static final float[] GX = new float[GK * GLD], GWT = new float[GK * GO], GDY = new float[GO * GLD], GDX = new float[GK * GLD];
    static final int[] GROW = new int[GK];
    static final float[] PX = new float[1024];

    static {
        for (int i = 0; i < FX.length; i++) FX[i] = (i * 7 % 13) * 0.1f - 0.6f;
        for (int i = 0; i < FW.length; i++) FW[i] = (i * 5 % 11) * 0.1f - 0.5f;
        for (int k = 0; k < FK; k++) FROW[k] = k * FLD;
        for (int i = 0; i < GX.length; i++) GX[i] = (i * 7 % 13) * 0.1f - 0.6f;
        for (int i = 0; i < GWT.length; i++) GWT[i] = (i * 5 % 11) * 0.1f - 0.5f;
        for (int i = 0; i < GDY.length; i++) GDY[i] = (i * 3 % 7) * 0.1f - 0.3f;
        for (int k = 0; k < GK; k++) GROW[k] = k * GLD;
        for (int i = 0; i < PX.length; i++) PX[i] = i * 0.001f;
    }

    // ------------------------------------------------------------ forward 2 x 4, four formulations

    /** Which formulation of each of the 8 chains: 0 = sub, abs, add; 1 = fma(-1, x, b), abs, add; 2 = sub, abs, fma(1, d, s). */
    static long fwd(int mode) {
        for (int p = 0; p + 4 * L <= FLD; p += 4 * L) {
            for (int r = 0; r + 2 <= FO; r += 2) {
                switch (mode) {
                    case 0 -> fwdA(FK, FLD, FW, r * FK, FX, FROW, p, FY, r * FLD + p);
                    case 1 -> fwdB(FK, FLD, FW, r * FK, FX, FROW, p, FY, r * FLD + p);
                    case 2 -> fwdC(FK, FLD, FW, r * FK, FX, FROW, p, FY, r * FLD + p);
                    case 3 -> fwdD(FK, FLD, FW, r * FK, FX, FROW, p, FY, r * FLD + p);
                    case 4 -> fwdE(FK, FLD, FW, r * FK, FX, FROW, p, FY, r * FLD + p);
                    case 5 -> fwdF(FK, FLD, FW, r * FK, FX, FROW, p, FY, r * FLD + p);
                    case 6 -> fwdG(FK, FLD, FW, r * FK, FX, FROW, p, FY, r * FLD + p);
                    case 7 -> fwdH(FK, FLD, FW, r * FK, FX, FROW, p, FY, r * FLD + p);
                    default -> fwdI(FK, FLD, FW, r * FK, FX, FROW, p, FY, r * FLD + p);
                }
            }
        }
        return (long) FO * FK * FLD;
    }

    private static void fwdA(int kk, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z, t01 = z, t02 = z, t03 = z, t10 = z, t11 = z, t12 = z, t13 = z;
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                FloatVector x0 = FloatVector.fromArray(S, x, xi);
                FloatVector x1 = FloatVector.fromArray(S, x, xi + 1 * L);
                FloatVector x2 = FloatVector.fromArray(S, x, xi + 2 * L);
                FloatVector x3 = FloatVector.fromArray(S, x, xi + 3 * L);
                FloatVector b = ZERO.broadcast(w[w0 + k]);
                s00 = b.sub(x0).abs().add(s00);
                s01 = b.sub(x1).abs().add(s01);
                s02 = b.sub(x2).abs().add(s02);
                s03 = b.sub(x3).abs().add(s03);
                b = ZERO.broadcast(w[w0 + kk + k]);
                s10 = b.sub(x0).abs().add(s10);
                s11 = b.sub(x1).abs().add(s11);
                s12 = b.sub(x2).abs().add(s12);
                s13 = b.sub(x3).abs().add(s13);
            }
            t00 = ONE.fma(s00, t00);
            t01 = ONE.fma(s01, t01);
            t02 = ONE.fma(s02, t02);
            t03 = ONE.fma(s03, t03);
            t10 = ONE.fma(s10, t10);
            t11 = ONE.fma(s11, t11);
            t12 = ONE.fma(s12, t12);
            t13 = ONE.fma(s13, t13);
        }
        ZERO.sub(t00).intoArray(y, y0);
        ZERO.sub(t01).intoArray(y, y0 + 1 * L);
        ZERO.sub(t02).intoArray(y, y0 + 2 * L);
        ZERO.sub(t03).intoArray(y, y0 + 3 * L);
        ZERO.sub(t10).intoArray(y, y0 + 1 * ld);
        ZERO.sub(t11).intoArray(y, y0 + 1 * ld + 1 * L);
        ZERO.sub(t12).intoArray(y, y0 + 1 * ld + 2 * L);
        ZERO.sub(t13).intoArray(y, y0 + 1 * ld + 3 * L);
    }

    private static void fwdB(int kk, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z, t01 = z, t02 = z, t03 = z, t10 = z, t11 = z, t12 = z, t13 = z;
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                FloatVector x0 = FloatVector.fromArray(S, x, xi);
                FloatVector x1 = FloatVector.fromArray(S, x, xi + 1 * L);
                FloatVector x2 = FloatVector.fromArray(S, x, xi + 2 * L);
                FloatVector x3 = FloatVector.fromArray(S, x, xi + 3 * L);
                FloatVector b = FloatVector.broadcast(S, w[w0 + k]);
                s00 = NEG_ONE.fma(x0, b).abs().add(s00);
                s01 = NEG_ONE.fma(x1, b).abs().add(s01);
                s02 = NEG_ONE.fma(x2, b).abs().add(s02);
                s03 = NEG_ONE.fma(x3, b).abs().add(s03);
                b = FloatVector.broadcast(S, w[w0 + kk + k]);
                s10 = NEG_ONE.fma(x0, b).abs().add(s10);
                s11 = NEG_ONE.fma(x1, b).abs().add(s11);
                s12 = NEG_ONE.fma(x2, b).abs().add(s12);
                s13 = NEG_ONE.fma(x3, b).abs().add(s13);
            }
            t00 = ONE.fma(s00, t00);
            t01 = ONE.fma(s01, t01);
            t02 = ONE.fma(s02, t02);
            t03 = ONE.fma(s03, t03);
            t10 = ONE.fma(s10, t10);
            t11 = ONE.fma(s11, t11);
            t12 = ONE.fma(s12, t12);
            t13 = ONE.fma(s13, t13);
        }
        ZERO.sub(t00).intoArray(y, y0);
        ZERO.sub(t01).intoArray(y, y0 + 1 * L);
        ZERO.sub(t02).intoArray(y, y0 + 2 * L);
        ZERO.sub(t03).intoArray(y, y0 + 3 * L);
        ZERO.sub(t10).intoArray(y, y0 + 1 * ld);
        ZERO.sub(t11).intoArray(y, y0 + 1 * ld + 1 * L);
        ZERO.sub(t12).intoArray(y, y0 + 1 * ld + 2 * L);
        ZERO.sub(t13).intoArray(y, y0 + 1 * ld + 3 * L);
    }

    private static void fwdC(int kk, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z, t01 = z, t02 = z, t03 = z, t10 = z, t11 = z, t12 = z, t13 = z;
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                FloatVector x0 = FloatVector.fromArray(S, x, xi);
                FloatVector x1 = FloatVector.fromArray(S, x, xi + 1 * L);
                FloatVector x2 = FloatVector.fromArray(S, x, xi + 2 * L);
                FloatVector x3 = FloatVector.fromArray(S, x, xi + 3 * L);
                FloatVector b = ZERO.broadcast(w[w0 + k]);
                s00 = ONE.fma(b.sub(x0).abs(), s00);
                s01 = ONE.fma(b.sub(x1).abs(), s01);
                s02 = ONE.fma(b.sub(x2).abs(), s02);
                s03 = ONE.fma(b.sub(x3).abs(), s03);
                b = ZERO.broadcast(w[w0 + kk + k]);
                s10 = ONE.fma(b.sub(x0).abs(), s10);
                s11 = ONE.fma(b.sub(x1).abs(), s11);
                s12 = ONE.fma(b.sub(x2).abs(), s12);
                s13 = ONE.fma(b.sub(x3).abs(), s13);
            }
            t00 = ONE.fma(s00, t00);
            t01 = ONE.fma(s01, t01);
            t02 = ONE.fma(s02, t02);
            t03 = ONE.fma(s03, t03);
            t10 = ONE.fma(s10, t10);
            t11 = ONE.fma(s11, t11);
            t12 = ONE.fma(s12, t12);
            t13 = ONE.fma(s13, t13);
        }
        ZERO.sub(t00).intoArray(y, y0);
        ZERO.sub(t01).intoArray(y, y0 + 1 * L);
        ZERO.sub(t02).intoArray(y, y0 + 2 * L);
        ZERO.sub(t03).intoArray(y, y0 + 3 * L);
        ZERO.sub(t10).intoArray(y, y0 + 1 * ld);
        ZERO.sub(t11).intoArray(y, y0 + 1 * ld + 1 * L);
        ZERO.sub(t12).intoArray(y, y0 + 1 * ld + 2 * L);
        ZERO.sub(t13).intoArray(y, y0 + 1 * ld + 3 * L);
    }

    private static void fwdE(int kk, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z, t01 = z, t02 = z, t03 = z, t10 = z, t11 = z, t12 = z, t13 = z;
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                FloatVector x0 = FloatVector.fromArray(S, x, xi);
                FloatVector x1 = FloatVector.fromArray(S, x, xi + 1 * L);
                FloatVector x2 = FloatVector.fromArray(S, x, xi + 2 * L);
                FloatVector x3 = FloatVector.fromArray(S, x, xi + 3 * L);
                FloatVector b = FloatVector.broadcast(S, w[w0 + k]);
                s00 = ABS.and(NEG_ONE.fma(x0, b).reinterpretAsInts()).reinterpretAsFloats().add(s00);
                s01 = ABS.and(NEG_ONE.fma(x1, b).reinterpretAsInts()).reinterpretAsFloats().add(s01);
                s02 = ABS.and(NEG_ONE.fma(x2, b).reinterpretAsInts()).reinterpretAsFloats().add(s02);
                s03 = ABS.and(NEG_ONE.fma(x3, b).reinterpretAsInts()).reinterpretAsFloats().add(s03);
                b = FloatVector.broadcast(S, w[w0 + kk + k]);
                s10 = ABS.and(NEG_ONE.fma(x0, b).reinterpretAsInts()).reinterpretAsFloats().add(s10);
                s11 = ABS.and(NEG_ONE.fma(x1, b).reinterpretAsInts()).reinterpretAsFloats().add(s11);
                s12 = ABS.and(NEG_ONE.fma(x2, b).reinterpretAsInts()).reinterpretAsFloats().add(s12);
                s13 = ABS.and(NEG_ONE.fma(x3, b).reinterpretAsInts()).reinterpretAsFloats().add(s13);
            }
            t00 = ONE.fma(s00, t00);
            t01 = ONE.fma(s01, t01);
            t02 = ONE.fma(s02, t02);
            t03 = ONE.fma(s03, t03);
            t10 = ONE.fma(s10, t10);
            t11 = ONE.fma(s11, t11);
            t12 = ONE.fma(s12, t12);
            t13 = ONE.fma(s13, t13);
        }
        ZERO.sub(t00).intoArray(y, y0);
        ZERO.sub(t01).intoArray(y, y0 + 1 * L);
        ZERO.sub(t02).intoArray(y, y0 + 2 * L);
        ZERO.sub(t03).intoArray(y, y0 + 3 * L);
        ZERO.sub(t10).intoArray(y, y0 + 1 * ld);
        ZERO.sub(t11).intoArray(y, y0 + 1 * ld + 1 * L);
        ZERO.sub(t12).intoArray(y, y0 + 1 * ld + 2 * L);
        ZERO.sub(t13).intoArray(y, y0 + 1 * ld + 3 * L);
    }

    private static void fwdF(int kk, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z, t01 = z, t02 = z, t03 = z, t10 = z, t11 = z, t12 = z, t13 = z;
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                FloatVector x0 = FloatVector.fromArray(S, x, xi);
                FloatVector x1 = FloatVector.fromArray(S, x, xi + 1 * L);
                FloatVector x2 = FloatVector.fromArray(S, x, xi + 2 * L);
                FloatVector x3 = FloatVector.fromArray(S, x, xi + 3 * L);
                FloatVector b = ZERO.broadcast(w[w0 + k]);
                s00 = ONE.fma(ABS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats(), s00);
                s01 = ONE.fma(ABS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats(), s01);
                s02 = ONE.fma(ABS.and(b.sub(x2).reinterpretAsInts()).reinterpretAsFloats(), s02);
                s03 = ONE.fma(ABS.and(b.sub(x3).reinterpretAsInts()).reinterpretAsFloats(), s03);
                b = ZERO.broadcast(w[w0 + kk + k]);
                s10 = ONE.fma(ABS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats(), s10);
                s11 = ONE.fma(ABS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats(), s11);
                s12 = ONE.fma(ABS.and(b.sub(x2).reinterpretAsInts()).reinterpretAsFloats(), s12);
                s13 = ONE.fma(ABS.and(b.sub(x3).reinterpretAsInts()).reinterpretAsFloats(), s13);
            }
            t00 = ONE.fma(s00, t00);
            t01 = ONE.fma(s01, t01);
            t02 = ONE.fma(s02, t02);
            t03 = ONE.fma(s03, t03);
            t10 = ONE.fma(s10, t10);
            t11 = ONE.fma(s11, t11);
            t12 = ONE.fma(s12, t12);
            t13 = ONE.fma(s13, t13);
        }
        ZERO.sub(t00).intoArray(y, y0);
        ZERO.sub(t01).intoArray(y, y0 + 1 * L);
        ZERO.sub(t02).intoArray(y, y0 + 2 * L);
        ZERO.sub(t03).intoArray(y, y0 + 3 * L);
        ZERO.sub(t10).intoArray(y, y0 + 1 * ld);
        ZERO.sub(t11).intoArray(y, y0 + 1 * ld + 1 * L);
        ZERO.sub(t12).intoArray(y, y0 + 1 * ld + 2 * L);
        ZERO.sub(t13).intoArray(y, y0 + 1 * ld + 3 * L);
    }

    private static void fwdG(int kk, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z, t01 = z, t02 = z, t03 = z, t10 = z, t11 = z, t12 = z, t13 = z;
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                FloatVector x0 = FloatVector.fromArray(S, x, xi);
                FloatVector x1 = FloatVector.fromArray(S, x, xi + 1 * L);
                FloatVector x2 = FloatVector.fromArray(S, x, xi + 2 * L);
                FloatVector x3 = FloatVector.fromArray(S, x, xi + 3 * L);
                FloatVector b = ZERO.broadcast(w[w0 + k]);
                s00 = ABS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats().add(s00);
                s01 = ABS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats().add(s01);
                s02 = ABS.and(b.sub(x2).reinterpretAsInts()).reinterpretAsFloats().add(s02);
                s03 = ABS.and(b.sub(x3).reinterpretAsInts()).reinterpretAsFloats().add(s03);
                b = ZERO.broadcast(w[w0 + kk + k]);
                s10 = ABS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats().add(s10);
                s11 = ABS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats().add(s11);
                s12 = ABS.and(b.sub(x2).reinterpretAsInts()).reinterpretAsFloats().add(s12);
                s13 = ABS.and(b.sub(x3).reinterpretAsInts()).reinterpretAsFloats().add(s13);
            }
            t00 = ONE.fma(s00, t00);
            t01 = ONE.fma(s01, t01);
            t02 = ONE.fma(s02, t02);
            t03 = ONE.fma(s03, t03);
            t10 = ONE.fma(s10, t10);
            t11 = ONE.fma(s11, t11);
            t12 = ONE.fma(s12, t12);
            t13 = ONE.fma(s13, t13);
        }
        ZERO.sub(t00).intoArray(y, y0);
        ZERO.sub(t01).intoArray(y, y0 + 1 * L);
        ZERO.sub(t02).intoArray(y, y0 + 2 * L);
        ZERO.sub(t03).intoArray(y, y0 + 3 * L);
        ZERO.sub(t10).intoArray(y, y0 + 1 * ld);
        ZERO.sub(t11).intoArray(y, y0 + 1 * ld + 1 * L);
        ZERO.sub(t12).intoArray(y, y0 + 1 * ld + 2 * L);
        ZERO.sub(t13).intoArray(y, y0 + 1 * ld + 3 * L);
    }

    private static void fwdH(int kk, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z, t01 = z, t02 = z, t03 = z, t10 = z, t11 = z, t12 = z, t13 = z;
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                FloatVector x0 = FloatVector.fromArray(S, x, xi);
                FloatVector x1 = FloatVector.fromArray(S, x, xi + 1 * L);
                FloatVector x2 = FloatVector.fromArray(S, x, xi + 2 * L);
                FloatVector x3 = FloatVector.fromArray(S, x, xi + 3 * L);
                FloatVector b = FloatVector.broadcast(S, w[w0 + k]);
                s00 = ABS.and(NEG_ONE.fma(x0, b).reinterpretAsInts()).reinterpretAsFloats().add(s00);
                s01 = ABS.and(NEG_ONE.fma(x1, b).reinterpretAsInts()).reinterpretAsFloats().add(s01);
                s02 = ABS.and(NEG_ONE.fma(x2, b).reinterpretAsInts()).reinterpretAsFloats().add(s02);
                s03 = ABS.and(NEG_ONE.fma(x3, b).reinterpretAsInts()).reinterpretAsFloats().add(s03);
                b = FloatVector.broadcast(S, w[w0 + kk + k]);
                s10 = ONE.fma(ABS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats(), s10);
                s11 = ONE.fma(ABS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats(), s11);
                s12 = ONE.fma(ABS.and(b.sub(x2).reinterpretAsInts()).reinterpretAsFloats(), s12);
                s13 = ONE.fma(ABS.and(b.sub(x3).reinterpretAsInts()).reinterpretAsFloats(), s13);
            }
            t00 = ONE.fma(s00, t00);
            t01 = ONE.fma(s01, t01);
            t02 = ONE.fma(s02, t02);
            t03 = ONE.fma(s03, t03);
            t10 = ONE.fma(s10, t10);
            t11 = ONE.fma(s11, t11);
            t12 = ONE.fma(s12, t12);
            t13 = ONE.fma(s13, t13);
        }
        ZERO.sub(t00).intoArray(y, y0);
        ZERO.sub(t01).intoArray(y, y0 + 1 * L);
        ZERO.sub(t02).intoArray(y, y0 + 2 * L);
        ZERO.sub(t03).intoArray(y, y0 + 3 * L);
        ZERO.sub(t10).intoArray(y, y0 + 1 * ld);
        ZERO.sub(t11).intoArray(y, y0 + 1 * ld + 1 * L);
        ZERO.sub(t12).intoArray(y, y0 + 1 * ld + 2 * L);
        ZERO.sub(t13).intoArray(y, y0 + 1 * ld + 3 * L);
    }

    private static void fwdI(int kk, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z, t01 = z, t02 = z, t03 = z, t10 = z, t11 = z, t12 = z, t13 = z;
        {
            int k0 = 0, k1 = kk;
            FloatVector s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                FloatVector x0 = FloatVector.fromArray(S, x, xi);
                FloatVector x1 = FloatVector.fromArray(S, x, xi + 1 * L);
                FloatVector x2 = FloatVector.fromArray(S, x, xi + 2 * L);
                FloatVector x3 = FloatVector.fromArray(S, x, xi + 3 * L);
                FloatVector b = ZERO.broadcast(w[w0 + k]);
                s00 = ABS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats().add(s00);
                s01 = ABS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats().add(s01);
                s02 = ABS.and(b.sub(x2).reinterpretAsInts()).reinterpretAsFloats().add(s02);
                s03 = ABS.and(b.sub(x3).reinterpretAsInts()).reinterpretAsFloats().add(s03);
                b = ZERO.broadcast(w[w0 + kk + k]);
                s10 = ABS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats().add(s10);
                s11 = ABS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats().add(s11);
                s12 = ABS.and(b.sub(x2).reinterpretAsInts()).reinterpretAsFloats().add(s12);
                s13 = ABS.and(b.sub(x3).reinterpretAsInts()).reinterpretAsFloats().add(s13);
            }
            t00 = ONE.fma(s00, t00);
            t01 = ONE.fma(s01, t01);
            t02 = ONE.fma(s02, t02);
            t03 = ONE.fma(s03, t03);
            t10 = ONE.fma(s10, t10);
            t11 = ONE.fma(s11, t11);
            t12 = ONE.fma(s12, t12);
            t13 = ONE.fma(s13, t13);
        }
        ZERO.sub(t00).intoArray(y, y0);
        ZERO.sub(t01).intoArray(y, y0 + 1 * L);
        ZERO.sub(t02).intoArray(y, y0 + 2 * L);
        ZERO.sub(t03).intoArray(y, y0 + 3 * L);
        ZERO.sub(t10).intoArray(y, y0 + 1 * ld);
        ZERO.sub(t11).intoArray(y, y0 + 1 * ld + 1 * L);
        ZERO.sub(t12).intoArray(y, y0 + 1 * ld + 2 * L);
        ZERO.sub(t13).intoArray(y, y0 + 1 * ld + 3 * L);
    }

    /** Half and half: row 0 subtracts on the FMA pipes, row 1 accumulates on them. */
    private static void fwdD(int kk, int ld, float[] w, int w0, float[] x, int[] xRow, int p, float[] y, int y0) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector t00 = z, t01 = z, t02 = z, t03 = z, t10 = z, t11 = z, t12 = z, t13 = z;
        for (int k0 = 0; k0 < kk; k0 += KB) {
            int k1 = Math.min(kk, k0 + KB);
            FloatVector s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            for (int k = k0; k < k1; k++) {
                int xi = xRow[k] + p;
                FloatVector x0 = FloatVector.fromArray(S, x, xi);
                FloatVector x1 = FloatVector.fromArray(S, x, xi + 1 * L);
                FloatVector x2 = FloatVector.fromArray(S, x, xi + 2 * L);
                FloatVector x3 = FloatVector.fromArray(S, x, xi + 3 * L);
                FloatVector b = FloatVector.broadcast(S, w[w0 + k]);
                s00 = NEG_ONE.fma(x0, b).abs().add(s00);
                s01 = NEG_ONE.fma(x1, b).abs().add(s01);
                s02 = NEG_ONE.fma(x2, b).abs().add(s02);
                s03 = NEG_ONE.fma(x3, b).abs().add(s03);
                b = ZERO.broadcast(w[w0 + kk + k]);
                s10 = ONE.fma(b.sub(x0).abs(), s10);
                s11 = ONE.fma(b.sub(x1).abs(), s11);
                s12 = ONE.fma(b.sub(x2).abs(), s12);
                s13 = ONE.fma(b.sub(x3).abs(), s13);
            }
            t00 = ONE.fma(s00, t00);
            t01 = ONE.fma(s01, t01);
            t02 = ONE.fma(s02, t02);
            t03 = ONE.fma(s03, t03);
            t10 = ONE.fma(s10, t10);
            t11 = ONE.fma(s11, t11);
            t12 = ONE.fma(s12, t12);
            t13 = ONE.fma(s13, t13);
        }
        ZERO.sub(t00).intoArray(y, y0);
        ZERO.sub(t01).intoArray(y, y0 + 1 * L);
        ZERO.sub(t02).intoArray(y, y0 + 2 * L);
        ZERO.sub(t03).intoArray(y, y0 + 3 * L);
        ZERO.sub(t10).intoArray(y, y0 + 1 * ld);
        ZERO.sub(t11).intoArray(y, y0 + 1 * ld + 1 * L);
        ZERO.sub(t12).intoArray(y, y0 + 1 * ld + 2 * L);
        ZERO.sub(t13).intoArray(y, y0 + 1 * ld + 3 * L);
    }

    // ------------------------------------------------------------ the profile's peak loop, three formulations

    static long peak(int mode) {
        int reps = 50;
        float f = switch (mode) {
            case 0 -> peakA(PX, reps);
            case 1 -> peakB(PX, reps);
            case 2 -> peakC(PX, reps);
            case 3 -> peakD(PX, reps);
            case 4 -> peakE(PX, reps);
            default -> peakF(PX, reps);
        };
        if (Float.isNaN(f)) throw new IllegalStateException();
        return (long) reps * (PX.length / (2 * L)) * 8 * L;
    }

    private static float peakA(float[] x, int reps) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        int step = 2 * L, n = reps * (x.length / step);
        for (int j = 0; j < n; j++) {
            int i = (j & 31) * step;
            FloatVector x0 = FloatVector.fromArray(S, x, i), x1 = FloatVector.fromArray(S, x, i + L);
            FloatVector b = ZERO.broadcast(x[j & 15]);
            a0 = b.sub(x0).abs().add(a0);
            a1 = b.sub(x1).abs().add(a1);
            b = ZERO.broadcast(x[(j & 15) + 16]);
            a2 = b.sub(x0).abs().add(a2);
            a3 = b.sub(x1).abs().add(a3);
            b = ZERO.broadcast(x[(j & 15) + 32]);
            a4 = b.sub(x0).abs().add(a4);
            a5 = b.sub(x1).abs().add(a5);
            b = ZERO.broadcast(x[(j & 15) + 48]);
            a6 = b.sub(x0).abs().add(a6);
            a7 = b.sub(x1).abs().add(a7);
        }
        return ZERO.add(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    private static float peakB(float[] x, int reps) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        int step = 2 * L, n = reps * (x.length / step);
        for (int j = 0; j < n; j++) {
            int i = (j & 31) * step;
            FloatVector x0 = FloatVector.fromArray(S, x, i), x1 = FloatVector.fromArray(S, x, i + L);
            FloatVector b = FloatVector.broadcast(S, x[j & 15]);
            a0 = NEG_ONE.fma(x0, b).abs().add(a0);
            a1 = NEG_ONE.fma(x1, b).abs().add(a1);
            b = FloatVector.broadcast(S, x[(j & 15) + 16]);
            a2 = NEG_ONE.fma(x0, b).abs().add(a2);
            a3 = NEG_ONE.fma(x1, b).abs().add(a3);
            b = FloatVector.broadcast(S, x[(j & 15) + 32]);
            a4 = NEG_ONE.fma(x0, b).abs().add(a4);
            a5 = NEG_ONE.fma(x1, b).abs().add(a5);
            b = FloatVector.broadcast(S, x[(j & 15) + 48]);
            a6 = NEG_ONE.fma(x0, b).abs().add(a6);
            a7 = NEG_ONE.fma(x1, b).abs().add(a7);
        }
        return ZERO.add(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    private static float peakC(float[] x, int reps) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        int step = 2 * L, n = reps * (x.length / step);
        for (int j = 0; j < n; j++) {
            int i = (j & 31) * step;
            FloatVector x0 = FloatVector.fromArray(S, x, i), x1 = FloatVector.fromArray(S, x, i + L);
            FloatVector b = ZERO.broadcast(x[j & 15]);
            a0 = ONE.fma(b.sub(x0).abs(), a0);
            a1 = ONE.fma(b.sub(x1).abs(), a1);
            b = ZERO.broadcast(x[(j & 15) + 16]);
            a2 = ONE.fma(b.sub(x0).abs(), a2);
            a3 = ONE.fma(b.sub(x1).abs(), a3);
            b = ZERO.broadcast(x[(j & 15) + 32]);
            a4 = ONE.fma(b.sub(x0).abs(), a4);
            a5 = ONE.fma(b.sub(x1).abs(), a5);
            b = ZERO.broadcast(x[(j & 15) + 48]);
            a6 = ONE.fma(b.sub(x0).abs(), a6);
            a7 = ONE.fma(b.sub(x1).abs(), a7);
        }
        return ZERO.add(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    private static float peakD(float[] x, int reps) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        int step = 2 * L, n = reps * (x.length / step);
        for (int j = 0; j < n; j++) {
            int i = (j & 31) * step;
            FloatVector x0 = FloatVector.fromArray(S, x, i), x1 = FloatVector.fromArray(S, x, i + L);
            FloatVector b = FloatVector.broadcast(S, x[j & 15]);
            a0 = ABS.and(NEG_ONE.fma(x0, b).reinterpretAsInts()).reinterpretAsFloats().add(a0);
            a1 = ABS.and(NEG_ONE.fma(x1, b).reinterpretAsInts()).reinterpretAsFloats().add(a1);
            b = FloatVector.broadcast(S, x[(j & 15) + 16]);
            a2 = ABS.and(NEG_ONE.fma(x0, b).reinterpretAsInts()).reinterpretAsFloats().add(a2);
            a3 = ABS.and(NEG_ONE.fma(x1, b).reinterpretAsInts()).reinterpretAsFloats().add(a3);
            b = FloatVector.broadcast(S, x[(j & 15) + 32]);
            a4 = ABS.and(NEG_ONE.fma(x0, b).reinterpretAsInts()).reinterpretAsFloats().add(a4);
            a5 = ABS.and(NEG_ONE.fma(x1, b).reinterpretAsInts()).reinterpretAsFloats().add(a5);
            b = FloatVector.broadcast(S, x[(j & 15) + 48]);
            a6 = ABS.and(NEG_ONE.fma(x0, b).reinterpretAsInts()).reinterpretAsFloats().add(a6);
            a7 = ABS.and(NEG_ONE.fma(x1, b).reinterpretAsInts()).reinterpretAsFloats().add(a7);
        }
        return ZERO.add(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    private static float peakE(float[] x, int reps) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        int step = 2 * L, n = reps * (x.length / step);
        for (int j = 0; j < n; j++) {
            int i = (j & 31) * step;
            FloatVector x0 = FloatVector.fromArray(S, x, i), x1 = FloatVector.fromArray(S, x, i + L);
            FloatVector b = ZERO.broadcast(x[j & 15]);
            a0 = ONE.fma(ABS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats(), a0);
            a1 = ONE.fma(ABS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats(), a1);
            b = ZERO.broadcast(x[(j & 15) + 16]);
            a2 = ONE.fma(ABS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats(), a2);
            a3 = ONE.fma(ABS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats(), a3);
            b = ZERO.broadcast(x[(j & 15) + 32]);
            a4 = ONE.fma(ABS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats(), a4);
            a5 = ONE.fma(ABS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats(), a5);
            b = ZERO.broadcast(x[(j & 15) + 48]);
            a6 = ONE.fma(ABS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats(), a6);
            a7 = ONE.fma(ABS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats(), a7);
        }
        return ZERO.add(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    private static float peakF(float[] x, int reps) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        int step = 2 * L, n = reps * (x.length / step);
        for (int j = 0; j < n; j++) {
            int i = (j & 31) * step;
            FloatVector x0 = FloatVector.fromArray(S, x, i), x1 = FloatVector.fromArray(S, x, i + L);
            FloatVector b = ZERO.broadcast(x[j & 15]);
            a0 = ABS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats().add(a0);
            a1 = ABS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats().add(a1);
            b = ZERO.broadcast(x[(j & 15) + 16]);
            a2 = ABS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats().add(a2);
            a3 = ABS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats().add(a3);
            b = ZERO.broadcast(x[(j & 15) + 32]);
            a4 = ABS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats().add(a4);
            a5 = ABS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats().add(a5);
            b = ZERO.broadcast(x[(j & 15) + 48]);
            a6 = ABS.and(b.sub(x0).reinterpretAsInts()).reinterpretAsFloats().add(a6);
            a7 = ABS.and(b.sub(x1).reinterpretAsInts()).reinterpretAsFloats().add(a7);
        }
        return ZERO.add(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    // ------------------------------------------------------------ input gradient 4 x 2: sub vs fma(-1, x, b)

    static long igrad(int mode) {
        for (int p = 0; p + 2 * L <= GLD; p += 2 * L) {
            for (int k = 0; k + 4 <= GK; k += 4) {
                if (mode == 0) igradA(GO, GLD, GWT, GX, GROW, k, p, GDY, GDX);
                else igradB(GO, GLD, GWT, GX, GROW, k, p, GDY, GDX);
            }
        }
        return (long) GO * GK * GLD;
    }

    private static void igradA(int o, int ld, float[] wt, float[] x, int[] xRow, int k, int p, float[] dy, float[] dx) {
        int q0 = xRow[k] + p, q1 = xRow[k + 1] + p, q2 = xRow[k + 2] + p, q3 = xRow[k + 3] + p;
        FloatVector x00 = FloatVector.fromArray(S, x, q0), x01 = FloatVector.fromArray(S, x, q0 + L);
        FloatVector x10 = FloatVector.fromArray(S, x, q1), x11 = FloatVector.fromArray(S, x, q1 + L);
        FloatVector x20 = FloatVector.fromArray(S, x, q2), x21 = FloatVector.fromArray(S, x, q2 + L);
        FloatVector x30 = FloatVector.fromArray(S, x, q3), x31 = FloatVector.fromArray(S, x, q3 + L);
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a00 = z, a10 = z, a20 = z, a30 = z, a01 = z, a11 = z, a21 = z, a31 = z;
        int t0 = k * o, t1 = t0 + o, t2 = t1 + o, t3 = t2 + o;
        for (int r = 0, di = p; r < o; r++, di += ld) {
            FloatVector d0 = NEG_ZERO.add(FloatVector.fromArray(S, dy, di));
            FloatVector d1 = NEG_ZERO.add(FloatVector.fromArray(S, dy, di + L));
            FloatVector b = ZERO.broadcast(wt[t0 + r]);
            IntVector e = b.sub(x00).reinterpretAsInts();
            a00 = d0.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a00);
            e = b.sub(x01).reinterpretAsInts();
            a01 = d1.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a01);
            b = ZERO.broadcast(wt[t1 + r]);
            e = b.sub(x10).reinterpretAsInts();
            a10 = d0.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a10);
            e = b.sub(x11).reinterpretAsInts();
            a11 = d1.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a11);
            b = ZERO.broadcast(wt[t2 + r]);
            e = b.sub(x20).reinterpretAsInts();
            a20 = d0.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a20);
            e = b.sub(x21).reinterpretAsInts();
            a21 = d1.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a21);
            b = ZERO.broadcast(wt[t3 + r]);
            e = b.sub(x30).reinterpretAsInts();
            a30 = d0.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a30);
            e = b.sub(x31).reinterpretAsInts();
            a31 = d1.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a31);
        }
        int o0 = k * ld + p;
        NEG_ZERO.add(a00).intoArray(dx, o0);
        NEG_ZERO.add(a01).intoArray(dx, o0 + L);
        NEG_ZERO.add(a10).intoArray(dx, o0 + ld);
        NEG_ZERO.add(a11).intoArray(dx, o0 + ld + L);
        NEG_ZERO.add(a20).intoArray(dx, o0 + 2 * ld);
        NEG_ZERO.add(a21).intoArray(dx, o0 + 2 * ld + L);
        NEG_ZERO.add(a30).intoArray(dx, o0 + 3 * ld);
        NEG_ZERO.add(a31).intoArray(dx, o0 + 3 * ld + L);
    }

    private static void igradB(int o, int ld, float[] wt, float[] x, int[] xRow, int k, int p, float[] dy, float[] dx) {
        int q0 = xRow[k] + p, q1 = xRow[k + 1] + p, q2 = xRow[k + 2] + p, q3 = xRow[k + 3] + p;
        FloatVector x00 = FloatVector.fromArray(S, x, q0), x01 = FloatVector.fromArray(S, x, q0 + L);
        FloatVector x10 = FloatVector.fromArray(S, x, q1), x11 = FloatVector.fromArray(S, x, q1 + L);
        FloatVector x20 = FloatVector.fromArray(S, x, q2), x21 = FloatVector.fromArray(S, x, q2 + L);
        FloatVector x30 = FloatVector.fromArray(S, x, q3), x31 = FloatVector.fromArray(S, x, q3 + L);
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a00 = z, a10 = z, a20 = z, a30 = z, a01 = z, a11 = z, a21 = z, a31 = z;
        int t0 = k * o, t1 = t0 + o, t2 = t1 + o, t3 = t2 + o;
        for (int r = 0, di = p; r < o; r++, di += ld) {
            FloatVector d0 = NEG_ZERO.add(FloatVector.fromArray(S, dy, di));
            FloatVector d1 = NEG_ZERO.add(FloatVector.fromArray(S, dy, di + L));
            FloatVector b = FloatVector.broadcast(S, wt[t0 + r]);
            IntVector e = NEG_ONE.fma(x00, b).reinterpretAsInts();
            a00 = d0.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a00);
            e = NEG_ONE.fma(x01, b).reinterpretAsInts();
            a01 = d1.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a01);
            b = FloatVector.broadcast(S, wt[t1 + r]);
            e = NEG_ONE.fma(x10, b).reinterpretAsInts();
            a10 = d0.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a10);
            e = NEG_ONE.fma(x11, b).reinterpretAsInts();
            a11 = d1.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a11);
            b = FloatVector.broadcast(S, wt[t2 + r]);
            e = NEG_ONE.fma(x20, b).reinterpretAsInts();
            a20 = d0.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a20);
            e = NEG_ONE.fma(x21, b).reinterpretAsInts();
            a21 = d1.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a21);
            b = FloatVector.broadcast(S, wt[t3 + r]);
            e = NEG_ONE.fma(x30, b).reinterpretAsInts();
            a30 = d0.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a30);
            e = NEG_ONE.fma(x31, b).reinterpretAsInts();
            a31 = d1.fma(SIGN.and(e).or(ONE_BITS_V).min(e).reinterpretAsFloats(), a31);
        }
        int o0 = k * ld + p;
        NEG_ZERO.add(a00).intoArray(dx, o0);
        NEG_ZERO.add(a01).intoArray(dx, o0 + L);
        NEG_ZERO.add(a10).intoArray(dx, o0 + ld);
        NEG_ZERO.add(a11).intoArray(dx, o0 + ld + L);
        NEG_ZERO.add(a20).intoArray(dx, o0 + 2 * ld);
        NEG_ZERO.add(a21).intoArray(dx, o0 + 2 * ld + L);
        NEG_ZERO.add(a30).intoArray(dx, o0 + 3 * ld);
        NEG_ZERO.add(a31).intoArray(dx, o0 + 3 * ld + L);
    }


    // ------------------------------------------------------------ pipe calibration: 16 independent chains, no loads
    static long cal(int mode) {
        int n = 2000;
        float f = switch (mode) {
            case 0 -> cal0(PX, n);
            case 1 -> cal1(PX, n);
            default -> cal2(PX, n);
        };
        if (Float.isNaN(f)) throw new IllegalStateException();
        return (long) n * 16 * L;
    }

    private static float cal0(float[] x, int n) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        FloatVector c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z, c6 = z, c7 = z;
        FloatVector v = FloatVector.fromArray(S, x, 0), u = FloatVector.fromArray(S, x, L);
        for (int j = 0; j < n; j++) {
            a0 = v.fma(u, a0);
            a1 = v.fma(u, a1);
            a2 = v.fma(u, a2);
            a3 = v.fma(u, a3);
            a4 = v.fma(u, a4);
            a5 = v.fma(u, a5);
            a6 = v.fma(u, a6);
            a7 = v.fma(u, a7);
            c0 = v.fma(u, c0);
            c1 = v.fma(u, c1);
            c2 = v.fma(u, c2);
            c3 = v.fma(u, c3);
            c4 = v.fma(u, c4);
            c5 = v.fma(u, c5);
            c6 = v.fma(u, c6);
            c7 = v.fma(u, c7);
        }
        return ZERO.add(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(c0).add(c1).add(c2).add(c3)
                .add(c4).add(c5).add(c6).add(c7).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    private static float cal1(float[] x, int n) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        FloatVector c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z, c6 = z, c7 = z;
        FloatVector v = FloatVector.fromArray(S, x, 0), u = FloatVector.fromArray(S, x, L);
        for (int j = 0; j < n; j++) {
            a0 = v.add(a0);
            a1 = v.add(a1);
            a2 = v.add(a2);
            a3 = v.add(a3);
            a4 = v.add(a4);
            a5 = v.add(a5);
            a6 = v.add(a6);
            a7 = v.add(a7);
            c0 = v.add(c0);
            c1 = v.add(c1);
            c2 = v.add(c2);
            c3 = v.add(c3);
            c4 = v.add(c4);
            c5 = v.add(c5);
            c6 = v.add(c6);
            c7 = v.add(c7);
        }
        return ZERO.add(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(c0).add(c1).add(c2).add(c3)
                .add(c4).add(c5).add(c6).add(c7).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    private static float cal2(float[] x, int n) {
        FloatVector z = ZERO.broadcast(0f);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        FloatVector c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z, c6 = z, c7 = z;
        FloatVector v = FloatVector.fromArray(S, x, 0), u = FloatVector.fromArray(S, x, L);
        for (int j = 0; j < n; j++) {
            a0 = v.fma(u, a0);
            a1 = v.fma(u, a1);
            a2 = v.fma(u, a2);
            a3 = v.fma(u, a3);
            a4 = v.fma(u, a4);
            a5 = v.fma(u, a5);
            a6 = v.fma(u, a6);
            a7 = v.fma(u, a7);
            c0 = v.add(c0);
            c1 = v.add(c1);
            c2 = v.add(c2);
            c3 = v.add(c3);
            c4 = v.add(c4);
            c5 = v.add(c5);
            c6 = v.add(c6);
            c7 = v.add(c7);
        }
        return ZERO.add(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(c0).add(c1).add(c2).add(c3)
                .add(c4).add(c5).add(c6).add(c7).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    // ------------------------------------------------------------ driver

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        long ms = args.length > 1 ? Long.parseLong(args[1]) : 300;
        String only = args.length > 2 ? args[2] : "fwd,peak,igrad";
        boolean ok = CompilerDirectives.add("[{ match: [\"" + PortBench.class.getName().replace('.', '/')
                + ".*\"], c1: { Exclude: true }, c2: { BackgroundCompilation: false } }]");
        if (!ok) System.err.println("PortBench: could not keep C1 away; results may be boxed");
        String[] names;
        Variant[] vs;
        java.util.List<String> n = new java.util.ArrayList<>();
        java.util.List<Variant> v = new java.util.ArrayList<>();
        for (String g : only.split(",")) {
            switch (g) {
                case "fwd" -> {
                    n.add("fwd2x4 sub,abs,add");
                    v.add(() -> fwd(0));
                    n.add("fwd2x4 fma(-1,x,b),abs,add");
                    v.add(() -> fwd(1));
                    n.add("fwd2x4 sub,abs,fma(1,d,s)");
                    v.add(() -> fwd(2));
                    n.add("fwd2x4 row0 fma-sub, row1 fma-acc");
                    v.add(() -> fwd(3));
                    n.add("fwd2x4 fma-sub,int-and,add");
                    v.add(() -> fwd(4));
                    n.add("fwd2x4 sub,int-and,fma-acc");
                    v.add(() -> fwd(5));
                    n.add("fwd2x4 sub,int-and,add");
                    v.add(() -> fwd(6));
                    n.add("fwd2x4 int-and; row0 fma-sub, row1 fma-acc");
                    v.add(() -> fwd(7));
                    n.add("fwd2x4 sub,int-and,add NO BLOCKS (other bits)");
                    v.add(() -> fwd(8));
                }
                case "peak" -> {
                    n.add("peak sub,abs,add");
                    v.add(() -> peak(0));
                    n.add("peak fma(-1,x,b),abs,add");
                    v.add(() -> peak(1));
                    n.add("peak sub,abs,fma(1,d,s)");
                    v.add(() -> peak(2));
                    n.add("peak fma-sub,int-and,add");
                    v.add(() -> peak(3));
                    n.add("peak sub,int-and,fma-acc");
                    v.add(() -> peak(4));
                    n.add("peak sub,int-and,add");
                    v.add(() -> peak(5));
                }
                case "igrad" -> {
                    n.add("igrad4x2 sub");
                    v.add(() -> igrad(0));
                    n.add("igrad4x2 fma(-1,x,b)");
                    v.add(() -> igrad(1));
                }
                case "cal" -> {
                    String[] cn = {"cal 16 fma chains", "cal 16 add chains", "cal 8 fma + 8 add chains"};
                    for (int m = 0; m < cn.length; m++) {
                        int mm = m;
                        n.add(cn[m]);
                        v.add(() -> cal(mm));
                    }
                }
                default -> throw new IllegalArgumentException(g);
            }
        }
        names = n.toArray(new String[0]);
        vs = v.toArray(new Variant[0]);
        ThreadMXBean tm = ManagementFactory.getThreadMXBean();
        // warm-up: each variant until C2 has compiled it (~2 s CPU each at most)
        for (Variant x : vs) {
            long c0 = tm.getCurrentThreadCpuTime();
            while (tm.getCurrentThreadCpuTime() - c0 < 1_500_000_000L) x.run();
        }
        double[][] rates = new double[vs.length][rounds];
        for (int round = 0; round < rounds; round++) {
            for (int i = 0; i < vs.length; i++) {
                long c0 = tm.getCurrentThreadCpuTime(), c, ops = 0;
                do {
                    ops += vs[i].run();
                } while ((c = tm.getCurrentThreadCpuTime()) - c0 < ms * 1_000_000L);
                rates[i][round] = ops / ((c - c0) / 1e9) / 1e9;
            }
        }
        for (int i = 0; i < vs.length; i++) {
            double[] r = rates[i].clone();
            java.util.Arrays.sort(r);
            StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-36s median %6.2f G-ops/CPU-s  rounds:", names[i], r[r.length / 2]));
            for (double x : rates[i]) sb.append(String.format(Locale.ROOT, " %.2f", x));
            System.out.println(sb);
        }
    }
}
