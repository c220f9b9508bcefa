package org.addernet.train;

import java.util.Locale;
import org.addernet.engine.Tensor;

/**
 * Evaluation counts over any number of batches, mergeable across workers: loss sum, top-1 and top-5 hits, and
 * per class the number of samples and a confusion matrix row ({@code confusion[true * classes + predicted]};
 * kept for up to {@link #MAX_CONFUSION_CLASSES} classes, per-class totals and hits always).
 */
public final class EvalStats implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    public static final int MAX_CONFUSION_CLASSES = 100;

    final int classes;
    long count, top1, top5;
    double lossSum;
    final long[] perClassCount, perClassHits;
    final long[] confusion; // null above MAX_CONFUSION_CLASSES

    public EvalStats(int classes) {
        this.classes = classes;
        this.perClassCount = new long[classes];
        this.perClassHits = new long[classes];
        this.confusion = classes <= MAX_CONFUSION_CLASSES ? new long[classes * classes] : null;
    }

    /** Restores stats from their parts (the Kryo serializer's constructor). */
    public static EvalStats of(int classes, long count, long top1, long top5, double lossSum, long[] perClassCount,
                               long[] perClassHits, long[] confusion) {
        EvalStats s = new EvalStats(classes);
        s.count = count;
        s.top1 = top1;
        s.top5 = top5;
        s.lossSum = lossSum;
        System.arraycopy(perClassCount, 0, s.perClassCount, 0, classes);
        System.arraycopy(perClassHits, 0, s.perClassHits, 0, classes);
        if (s.confusion != null) System.arraycopy(confusion, 0, s.confusion, 0, s.confusion.length);
        return s;
    }

    /** Adds a batch of logits (N, classes, 1, 1) with its labels. */
    public void add(Tensor logits, int[] labels) {
        int n = logits.n, k = logits.perSample();
        if (k != classes) throw new IllegalArgumentException("logits have " + k + " classes, stats " + classes);
        float[] z = logits.data;
        for (int i = 0; i < n; i++) {
            int base = i * k, label = labels[i];
            double max = Double.NEGATIVE_INFINITY;
            int arg = 0;
            for (int j = 0; j < k; j++) {
                if (z[base + j] > max) {
                    max = z[base + j];
                    arg = j;
                }
            }
            double sum = 0;
            for (int j = 0; j < k; j++) sum += Math.exp(z[base + j] - max);
            lossSum += Math.log(sum) + max - z[base + label];
            // Top-5: the label is among the 5 largest if fewer than 5 logits beat it (ties go to the lower index,
            // as a stable sort would).
            int better = 0;
            float zl = z[base + label];
            for (int j = 0; j < k; j++) if (z[base + j] > zl || (z[base + j] == zl && j < label)) better++;
            if (better < 5) top5++;
            if (arg == label) {
                top1++;
                perClassHits[label]++;
            }
            perClassCount[label]++;
            if (confusion != null) confusion[label * classes + arg]++;
            count++;
        }
    }

    public EvalStats merge(EvalStats o) {
        if (o.classes != classes) throw new IllegalArgumentException("merging stats of " + o.classes + " and " + classes + " classes");
        count += o.count;
        top1 += o.top1;
        top5 += o.top5;
        lossSum += o.lossSum;
        for (int c = 0; c < classes; c++) {
            perClassCount[c] += o.perClassCount[c];
            perClassHits[c] += o.perClassHits[c];
        }
        if (confusion != null) for (int i = 0; i < confusion.length; i++) confusion[i] += o.confusion[i];
        return this;
    }

    public int classes() { return classes; }
    public long count() { return count; }
    public long top1Hits() { return top1; }
    public double loss() { return count == 0 ? Double.NaN : lossSum / count; }
    public double lossSum() { return lossSum; }
    public double top1() { return count == 0 ? Double.NaN : (double) top1 / count; }
    public double top5() { return count == 0 ? Double.NaN : (double) top5 / count; }
    public long top5Hits() { return top5; }
    public long[] perClassCount() { return perClassCount.clone(); }
    public long[] perClassHits() { return perClassHits.clone(); }
    /** {@code [true * classes + predicted]}, or null for more than {@link #MAX_CONFUSION_CLASSES} classes. */
    public long[] confusion() { return confusion == null ? null : confusion.clone(); }

    public double classAccuracy(int c) {
        return perClassCount[c] == 0 ? Double.NaN : (double) perClassHits[c] / perClassCount[c];
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%d samples: loss %.4f, top-1 %.4f, top-5 %.4f", count, loss(), top1(), top5());
    }
}
