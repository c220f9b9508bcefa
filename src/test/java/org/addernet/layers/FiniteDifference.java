package org.addernet.layers;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.function.Supplier;
import org.addernet.engine.Params;
import org.addernet.engine.Rng;
import org.addernet.engine.Tensor;

/**
 * Central finite differences against a layer's analytic backward. The layers compute in float32, so the loss
 * used is {@code L = sum(y * r)} with random {@code r} and step sizes large enough for float rounding; the
 * tolerance is on the relative L2 error over all probed coordinates. Shared by the layer and model tests.
 */
public final class FiniteDifference {
    private FiniteDifference() {}

    public static Tensor random(Rng rng, int n, int c, int h, int w) {
        Tensor t = new Tensor(n, c, h, w);
        for (int i = 0; i < t.size(); i++) t.data[i] = (float) rng.nextGaussian();
        return t;
    }

    static double dot(Tensor y, float[] r) {
        double s = 0;
        for (int i = 0; i < y.size(); i++) s += (double) y.data[i] * r[i];
        return s;
    }

    /**
     * Relative L2 error of {@code analytic} against central differences of sum(layer(x) * r) in {@code values},
     * over the coordinates {@code probes} (null: all of {@code values}).
     */
    static double fdError(Layer layer, Tensor x, float[] r, float[] values, float[] analytic, double h, int[] probes) {
        double num = 0, den = 0;
        int count = probes == null ? values.length : probes.length;
        for (int p = 0; p < count; p++) {
            int i = probes == null ? p : probes[p];
            float keep = values[i];
            values[i] = (float) (keep + h);
            double plus = dot(layer.forward(x, true), r);
            values[i] = (float) (keep - h);
            double minus = dot(layer.forward(x, true), r);
            values[i] = keep;
            double fd = (plus - minus) / (2 * h);
            num += (fd - analytic[i]) * (fd - analytic[i]);
            den += fd * fd;
        }
        return Math.sqrt(num / den);
    }

    /**
     * Relative L2 error over {@code directions} random unit directions {@code v} of the directional derivative:
     * central differences of sum(layer(x + h v) * r) in {@code values} against {@code <analytic, v>}. Moving every
     * coordinate at once gives a signal far above float rounding where one coordinate of a deep network's input
     * has too small an effect on its output to be measured alone.
     */
    static double directionalError(Layer layer, Tensor x, float[] r, float[] values, float[] analytic, double h, Rng rng,
                                   int directions) {
        int n = analytic.length;
        float[] keep = Arrays.copyOf(values, n);
        double num = 0, den = 0;
        for (int d = 0; d < directions; d++) {
            double[] v = new double[n];
            double norm = 0, an = 0;
            for (int i = 0; i < n; i++) {
                v[i] = rng.nextGaussian();
                norm += v[i] * v[i];
            }
            norm = Math.sqrt(norm);
            for (int i = 0; i < n; i++) {
                v[i] /= norm;
                an += analytic[i] * v[i];
            }
            for (int i = 0; i < n; i++) values[i] = (float) (keep[i] + h * v[i]);
            double plus = dot(layer.forward(x, true), r);
            for (int i = 0; i < n; i++) values[i] = (float) (keep[i] - h * v[i]);
            double minus = dot(layer.forward(x, true), r);
            System.arraycopy(keep, 0, values, 0, n);
            double fd = (plus - minus) / (2 * h);
            num += (fd - an) * (fd - an);
            den += fd * fd;
        }
        return Math.sqrt(num / den);
    }

    /**
     * Checks a network's input and parameter gradients along {@code directions} random directions each (see
     * {@link #directionalError}), steps {@code hx} and {@code hp}.
     */
    public static void checkDirections(String what, Layer layer, Params params, Tensor x, double hx, double hp, double tol,
                                       int directions) {
        Rng rng = new Rng(7);
        Tensor y = layer.forward(x, true);
        float[] r = new float[y.size()];
        for (int i = 0; i < r.length; i++) r[i] = (float) rng.nextGaussian();
        params.zeroGrad();
        float[] buffersBefore = params.buffers.clone();
        Tensor dx = layer.backward(new Tensor(y.n, y.c, y.h, y.w, r.clone()));
        float[] analyticX = Arrays.copyOf(dx.data, x.size());
        float[] analyticP = params.grad.clone();
        double relX = directionalError(layer, x, r, x.data, analyticX, hx, rng, directions);
        double relP = directionalError(layer, x, r, params.data, analyticP, hp, rng, directions);
        System.arraycopy(buffersBefore, 0, params.buffers, 0, buffersBefore.length);
        System.out.printf("gradcheck %s: dx rel err %.2e, dparams rel err %.2e (%d directions)%n", what, relX, relP, directions);
        assertTrue(relX < tol, what + ": input gradient rel err " + relX);
        assertTrue(relP < tol, what + ": parameter gradient rel err " + relP);
    }

    /** Checks d(sum(layer(x) * r))/dx and, if given, d/dparams against finite differences at every coordinate. */
    public static void check(String what, Supplier<Layer> make, Params params, Tensor x, double h, double tol) {
        check(what, make, params, x, h, h, tol, 0);
    }

    /**
     * As above with steps {@code hx} for x and {@code hp} for the parameters (through several ReLUs a smaller step
     * crosses fewer kinks, a larger one loses fewer digits to float rounding; x and the parameters are best served
     * by different compromises), probing {@code probes} random coordinates of each (0: all of them).
     */
    public static void check(String what, Supplier<Layer> make, Params params, Tensor x, double hx, double hp, double tol,
                             int probes) {
        Layer layer = make.get();
        Rng rng = new Rng(7);
        Tensor y = layer.forward(x, true);
        float[] r = new float[y.size()];
        for (int i = 0; i < r.length; i++) r[i] = (float) rng.nextGaussian();
        Tensor dy = new Tensor(y.n, y.c, y.h, y.w, r.clone());
        if (params != null) params.zeroGrad();
        float[] buffersBefore = params == null ? null : params.buffers.clone();
        Tensor dx = layer.backward(dy);
        float[] analyticX = Arrays.copyOf(dx.data, x.size()); // a pooled gradient buffer may be longer
        float[] analyticP = params == null ? null : params.grad.clone();
        double relX = fdError(layer, x, r, x.data, analyticX, hx, sample(rng, x.size(), probes));
        double relP = 0;
        if (params != null) {
            relP = fdError(layer, x, r, params.data, analyticP, hp, sample(rng, params.data.length, probes));
            System.arraycopy(buffersBefore, 0, params.buffers, 0, buffersBefore.length);
        }
        System.out.printf("gradcheck %s: dx rel err %.2e, dparams rel err %.2e%n", what, relX, relP);
        assertTrue(relX < tol, what + ": input gradient rel err " + relX);
        assertTrue(relP < tol, what + ": parameter gradient rel err " + relP);
    }

    /** {@code k} distinct indices below {@code n} (null: all). */
    private static int[] sample(Rng rng, int n, int k) {
        if (k <= 0 || k >= n) return null;
        return Arrays.copyOf(rng.permutation(n), k);
    }
}
