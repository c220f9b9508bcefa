package org.addernet.layers;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Passes} with the Java Vector API; the only class of {@code layers} that references
 * {@code jdk.incubator.vector}, loaded reflectively by {@link Passes#vector}. The double passes work on 8 floats at
 * a time, widened into one 8-lane double vector: vector lane {@code l} is the virtual lane {@code l} of
 * {@link Passes}, so the sums have {@link ScalarPasses}'s order. Used only where 8 doubles are one native vector
 * (AVX-512); on narrower machines the Vector API would emulate them, and the scalar form computes the same bits.
 * Each value is computed with the scalar form's operations (float to double, sub, mul, add, double to float, the
 * float {@code max} of {@code Math.max}); no fma.
 *
 * <p>Not the default ({@link Passes#get}): measured under load, this class in the JVM slowed the adder kernels in
 * some cold JVMs (C2 profile pollution, see docs/DESIGN-NOTES.md); {@code -Daddernet.passes=vector} enables it.
 */
final class VectorPasses extends Passes {
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final VectorSpecies<Double> D8 = DoubleVector.SPECIES_512;
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int LF = FS.length();
    /**
     * Receivers of every op, so that each op's receiver has its exact species class without profile-based speculation
     * (the rule and its reason are in {@code VectorColumnKernels}). Loads and accumulators only appear as arguments;
     * {@code -0 + v = v} exactly, so {@code NEG_ZERO.add(v)} gives {@code v} an exact class.
     */
    private static final FloatVector F8_ZERO = FloatVector.zero(F8), F8_NZ = F8_ZERO.broadcast(-0f), FS_ZERO = FloatVector.zero(FS),
            FS_NZ = FS_ZERO.broadcast(-0f);
    private static final DoubleVector D8_NZ = DoubleVector.zero(D8).broadcast(-0d);

    @Override
    boolean usable() {
        return DoubleVector.SPECIES_PREFERRED.length() >= LANES;
    }

    @Override
    String name() {
        return "vector";
    }

    private static DoubleVector widen(float[] x, int i) {
        return D8_NZ.add(F8_NZ.add(FloatVector.fromArray(F8, x, i)).convertShape(VectorOperators.F2D, D8, 0));
    }

    @Override
    void sum(float[] x, int off, int len, double[] lanes) {
        int j = 0;
        if (len >= LANES) {
            DoubleVector a = DoubleVector.fromArray(D8, lanes, 0);
            for (; j + LANES <= len; j += LANES) a = widen(x, off + j).add(a);
            D8_NZ.add(a).intoArray(lanes, 0);
        }
        for (; j < len; j++) lanes[j & 7] += x[off + j];
    }

    @Override
    void sumSquaredDeviation(float[] x, int off, int len, double mean, double[] lanes) {
        int j = 0;
        if (len >= LANES) {
            DoubleVector a = DoubleVector.fromArray(D8, lanes, 0), m = DoubleVector.broadcast(D8, mean);
            for (; j + LANES <= len; j += LANES) {
                DoubleVector d = widen(x, off + j).sub(m);
                a = d.mul(d).add(a);
            }
            D8_NZ.add(a).intoArray(lanes, 0);
        }
        for (; j < len; j++) {
            double d = x[off + j] - mean;
            lanes[j & 7] += d * d;
        }
    }

    @Override
    void normalize(float[] x, float[] y, int off, int len, double mean, double scale, double beta, boolean relu) {
        int j = 0;
        DoubleVector m = DoubleVector.broadcast(D8, mean), s = DoubleVector.broadcast(D8, scale), b = DoubleVector.broadcast(D8, beta);
        if (relu) {
            for (; j + LANES <= len; j += LANES) {
                F8_ZERO.max(widen(x, off + j).sub(m).mul(s).add(b).convertShape(VectorOperators.D2F, F8, 0)).intoArray(y, off + j); // max(0, v) = max(v, 0): Math.max is symmetric, NaN included
            }
        } else {
            for (; j + LANES <= len; j += LANES) {
                F8_NZ.add(widen(x, off + j).sub(m).mul(s).add(b).convertShape(VectorOperators.D2F, F8, 0)).intoArray(y, off + j);
            }
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
        if (len >= LANES) {
            DoubleVector ag = DoubleVector.fromArray(D8, lanesG, 0), agd = DoubleVector.fromArray(D8, lanesGD, 0);
            DoubleVector m = DoubleVector.broadcast(D8, mean);
            for (; j + LANES <= len; j += LANES) {
                int i = off + j;
                FloatVector gf;
                if (mask != null) {
                    VectorMask<Float> pos = F8_NZ.add(FloatVector.fromArray(F8, mask, i)).compare(VectorOperators.GT, 0f);
                    gf = F8_ZERO.blend(FloatVector.fromArray(F8, dy, i), pos);
                    gf.intoArray(dy, i);
                } else {
                    gf = F8_ZERO.blend(FloatVector.fromArray(F8, dy, i), F8.maskAll(true)); // dy itself, with an exact class
                }
                DoubleVector g = D8_NZ.add(gf.convertShape(VectorOperators.F2D, D8, 0));
                ag = g.add(ag);
                agd = g.mul(widen(x, i).sub(m)).add(agd);
            }
            D8_NZ.add(ag).intoArray(lanesG, 0);
            D8_NZ.add(agd).intoArray(lanesGD, 0);
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
        DoubleVector m = DoubleVector.broadcast(D8, mean), gi = DoubleVector.broadcast(D8, gInv), c1 = DoubleVector.broadcast(D8, k1),
                c2 = DoubleVector.broadcast(D8, k2);
        for (; j + LANES <= len; j += LANES) {
            int i = off + j;
            DoubleVector t = widen(dy, i).sub(c1).sub(widen(x, i).sub(m).mul(c2));
            F8_NZ.add(t.mul(gi).convertShape(VectorOperators.D2F, F8, 0)).intoArray(dy, i);
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
            VectorMask<Float> pos = FS_NZ.add(FloatVector.fromArray(FS, y, i)).compare(VectorOperators.GT, 0f);
            FloatVector g = FS_ZERO.blend(FloatVector.fromArray(FS, dy, i), pos);
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
