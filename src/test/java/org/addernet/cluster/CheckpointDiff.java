package org.addernet.cluster;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import org.addernet.model.Checkpoint;

/**
 * Tensor-by-tensor comparison of two checkpoints (weights, BN buffers, momentum): how many values differ at all,
 * the largest absolute difference and where, and the relative error ||a - ref|| / ||ref|| over everything.
 * The header (config, timings) is not compared: runs differ in keys such as {@code log_every}.
 */
record CheckpointDiff(int tensors, long values, long differing, double maxAbs, String maxAbsAt, double relErr) {

    static CheckpointDiff of(Path a, Path ref) throws IOException {
        Map<String, Checkpoint.Entry> ta = read(a).tensors(), tr = read(ref).tensors();
        if (!ta.keySet().equals(tr.keySet())) {
            throw new AssertionError(a + " and " + ref + " hold different tensors: " + ta.keySet() + " vs " + tr.keySet());
        }
        long values = 0, differing = 0;
        double num = 0, den = 0, maxAbs = 0;
        String maxAt = "-";
        for (Map.Entry<String, Checkpoint.Entry> e : tr.entrySet()) {
            Checkpoint.Entry x = ta.get(e.getKey()), r = e.getValue();
            if (!Arrays.equals(x.shape(), r.shape())) {
                throw new AssertionError("tensor " + e.getKey() + ": shape " + Arrays.toString(x.shape()) + " vs " + Arrays.toString(r.shape()));
            }
            float[] xv = x.values(), rv = r.values();
            for (int i = 0; i < rv.length; i++) {
                if (Float.floatToRawIntBits(xv[i]) != Float.floatToRawIntBits(rv[i])) differing++;
                double d = (double) xv[i] - rv[i];
                num += d * d;
                den += (double) rv[i] * rv[i];
                if (Math.abs(d) > maxAbs || Double.isNaN(d)) {
                    maxAbs = Math.abs(d);
                    maxAt = e.getKey() + "[" + i + "]";
                }
            }
            values += rv.length;
        }
        return new CheckpointDiff(tr.size(), values, differing, maxAbs, maxAt, den == 0 ? Math.sqrt(num) : Math.sqrt(num / den));
    }

    static Checkpoint read(Path p) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            return Checkpoint.read(in, p.toString());
        }
    }

    boolean bitIdentical() {
        return differing == 0;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%d tensors, %d values: %s; relative error %.3g, max |diff| %.3g at %s",
                tensors, values, differing == 0 ? "bit-identical" : differing + " values differ", relErr, maxAbs, maxAbsAt);
    }
}
