package org.addernet.layers;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Passes} with the Java Vector API; the only class of {@code layers} that references
 * {@code jdk.incubator.vector}, loaded reflectively by {@link Passes#vector}. The double passes load 16 floats (the
 * kernels' species, so the JVM sees no second float species) and widen them into two 8-lane double vectors, the
 * first 8 floats and the next 8: vector lane {@code l} is the virtual lane {@code l} of {@link Passes} either way,
 * and the halves are added in element order, so the sums have {@link ScalarPasses}'s order. Used only where
 * 16 floats and 8 doubles are native vectors (AVX-512); elsewhere the scalar form computes the same bits. Each value
 * is computed with the scalar form's operations (float to double, sub, mul, add, double to float, the float
 * {@code max} of {@code Math.max}); no fma.
 *
 * <p>Receivers of ops are constants or results of ops on constants (exact species classes), loads and
 * accumulators only arguments, following {@code VectorColumnKernels}' rules ({@code -0 + v = v} exactly).
 */
final class VectorPasses extends Passes {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_512;
    private static final int LF = 16;
    private static final FloatVector F_ZERO = FloatVector.zero(F), F_NZ = F_ZERO.broadcast(-0f);
    private static final DoubleVector D_NZ = DoubleVector.zero(D).broadcast(-0d);
    /** Lanes 8..15: where the second half of a narrowed pair goes. */
    private static final VectorMask<Float> HIGH = VectorMask.fromLong(F, 0xFF00L);

    @Override
    boolean usable() {
        return FloatVector.SPECIES_PREFERRED.length() == LF && DoubleVector.SPECIES_PREFERRED.length() == LANES;
    }

    @Override
    String name() {
        return "vector";
    }

    private static FloatVector load(float[] x, int i) {
        return F_NZ.add(FloatVector.fromArray(F, x, i));
    }

    /** Floats 0..7 ({@code part} 0) or 8..15 ({@code part} 1) of {@code v} as doubles. */
    private static DoubleVector widen(FloatVector v, int part) {
        return D_NZ.add(v.convertShape(VectorOperators.F2D, D, part));
    }

    /** Two 8-double vectors narrowed into one 16-float vector, {@code lo} in lanes 0..7. */
    private static FloatVector narrow(DoubleVector lo, DoubleVector hi) {
        return F_NZ.add(lo.convertShape(VectorOperators.D2F, F, 0)).blend(hi.convertShape(VectorOperators.D2F, F, -1), HIGH);
    }

    @Override
    void sum(float[] x, int off, int len, double[] lanes) {
        int j = 0;
        if (len >= LF) {
            DoubleVector a = DoubleVector.fromArray(D, lanes, 0);
            for (; j + LF <= len; j += LF) {
                FloatVector v = load(x, off + j);
                a = widen(v, 0).add(a);
                a = widen(v, 1).add(a);
            }
            D_NZ.add(a).intoArray(lanes, 0);
        }
        for (; j < len; j++) lanes[j & 7] += x[off + j];
    }

    @Override
    void sumSquaredDeviation(float[] x, int off, int len, double mean, double[] lanes) {
        int j = 0;
        if (len >= LF) {
            DoubleVector a = DoubleVector.fromArray(D, lanes, 0), m = DoubleVector.broadcast(D, mean);
            for (; j + LF <= len; j += LF) {
                FloatVector v = load(x, off + j);
                DoubleVector d0 = widen(v, 0).sub(m), d1 = widen(v, 1).sub(m);
                a = d0.mul(d0).add(a);
                a = d1.mul(d1).add(a);
            }
            D_NZ.add(a).intoArray(lanes, 0);
        }
        for (; j < len; j++) {
            double d = x[off + j] - mean;
            lanes[j & 7] += d * d;
        }
    }

    @Override
    void normalize(float[] x, float[] y, int off, int len, double mean, double scale, double beta, boolean relu) {
        int j = 0;
        DoubleVector m = DoubleVector.broadcast(D, mean), s = DoubleVector.broadcast(D, scale), b = DoubleVector.broadcast(D, beta);
        for (; j + LF <= len; j += LF) {
            FloatVector v = load(x, off + j);
            FloatVector r = narrow(widen(v, 0).sub(m).mul(s).add(b), widen(v, 1).sub(m).mul(s).add(b));
            if (relu) r = F_ZERO.max(r); // max(0, v) = max(v, 0): Math.max is symmetric, NaN included
            r.intoArray(y, off + j);
        }
        for (; j < len; j++) {
            int i = off + j;
            float v = (float) ((x[i] - mean) * scale + beta);
            y[i] = relu ? Math.max(v, 0f) : v;
        }
    }

    @Override
    void gradientSums(float[] x, float[] dy, float[] mask, int off, int len, double mean, double[] lanesG, double[] lanesGD) {
        int j = 0;
        if (len >= LF) {
            DoubleVector ag = DoubleVector.fromArray(D, lanesG, 0), agd = DoubleVector.fromArray(D, lanesGD, 0);
            DoubleVector m = DoubleVector.broadcast(D, mean);
            for (; j + LF <= len; j += LF) {
                int i = off + j;
                FloatVector gf;
                if (mask != null) {
                    gf = F_ZERO.blend(FloatVector.fromArray(F, dy, i), load(mask, i).compare(VectorOperators.GT, 0f));
                    gf.intoArray(dy, i);
                } else {
                    gf = F_ZERO.blend(FloatVector.fromArray(F, dy, i), F.maskAll(true)); // dy itself, with an exact class
                }
                FloatVector xv = load(x, i);
                DoubleVector g0 = widen(gf, 0), g1 = widen(gf, 1);
                ag = g0.add(ag);
                agd = g0.mul(widen(xv, 0).sub(m)).add(agd);
                ag = g1.add(ag);
                agd = g1.mul(widen(xv, 1).sub(m)).add(agd);
            }
            D_NZ.add(ag).intoArray(lanesG, 0);
            D_NZ.add(agd).intoArray(lanesGD, 0);
        }
        for (; j < len; j++) {
            int i = off + j;
            float g = dy[i];
            if (mask != null) {
                g = mask[i] > 0f ? g : 0f;
                dy[i] = g;
            }
            lanesG[j & 7] += g;
            lanesGD[j & 7] += g * (x[i] - mean);
        }
    }

    @Override
    void inputGradient(float[] x, float[] dy, int off, int len, double mean, double gInv, double k1, double k2) {
        int j = 0;
        DoubleVector m = DoubleVector.broadcast(D, mean), gi = DoubleVector.broadcast(D, gInv), c1 = DoubleVector.broadcast(D, k1),
                c2 = DoubleVector.broadcast(D, k2);
        for (; j + LF <= len; j += LF) {
            int i = off + j;
            FloatVector g = load(dy, i), xv = load(x, i);
            DoubleVector t0 = widen(g, 0).sub(c1).sub(widen(xv, 0).sub(m).mul(c2));
            DoubleVector t1 = widen(g, 1).sub(c1).sub(widen(xv, 1).sub(m).mul(c2));
            narrow(t0.mul(gi), t1.mul(gi)).intoArray(dy, i);
        }
        for (; j < len; j++) {
            int i = off + j;
            dy[i] = (float) (gInv * (dy[i] - k1 - (x[i] - mean) * k2));
        }
    }

    @Override
    void reluGradient(float[] y, float[] dy, float[] copy, int from, int to) {
        int i = from;
        for (; i + LF <= to; i += LF) {
            FloatVector g = F_ZERO.blend(FloatVector.fromArray(F, dy, i), load(y, i).compare(VectorOperators.GT, 0f));
            g.intoArray(dy, i);
            if (copy != null) g.intoArray(copy, i);
        }
        for (; i < to; i++) {
            float g = y[i] > 0f ? dy[i] : 0f;
            dy[i] = g;
            if (copy != null) copy[i] = g;
        }
    }
}
