package org.addernet.data;

import org.addernet.engine.ThreadPool;

/**
 * A dataset, or one worker's shard of it, as the trainer sees it: {@link #count} samples, each with a stable
 * {@link #id} (its index in the whole dataset, which keys its augmentation draws) and a label, turned into
 * normalized float batches by {@link #fill}. Implementations: {@link BatchAssembler} over decoded uint8 images
 * (MNIST, CIFAR), and the JPEG pipeline over compressed images (ImageFolder, Parquet shards).
 *
 * <p>Implementations are immutable after construction: {@link #fill} may run on many threads at once.
 */
public interface Samples {
    String name();

    int count();

    /** Id of sample {@code i}: its index in the whole dataset, whichever shard holds it. */
    int id(int i);

    int label(int i);

    int numClasses();

    /** (C, H, W) of one sample as {@link #fill} writes it. */
    int[] shape();

    /** C*H*W: floats per sample. */
    default int sampleSize() {
        int[] s = shape();
        return s[0] * s[1] * s[2];
    }

    /** Where sample {@code i} came from (a file path), or null when samples have no source of their own. */
    default String source(int i) {
        return null;
    }

    /**
     * Fills sample {@code k} of the batch ({@code x[k*C*H*W ..]}, {@code y[k]}) from sample {@code indices[from + k]},
     * for {@code k < n}, with epoch {@code epoch}'s augmentation draws; in parallel over samples when {@code pool}
     * is not null.
     */
    void fill(int epoch, int[] indices, int from, int n, float[] x, int[] y, ThreadPool pool);

    /** The argument checks of {@link #fill}: {@code [from, from + n)} inside {@code indices}, x and y large enough. */
    static void checkBatch(int[] indices, int from, int n, int sampleSize, float[] x, int[] y) {
        if (from < 0 || n < 0 || from + n > indices.length) {
            throw new IndexOutOfBoundsException("samples [" + from + ", " + (from + n) + ") of " + indices.length + " indices");
        }
        if (x.length < (long) n * sampleSize || y.length < n) {
            throw new IllegalArgumentException("batch of " + n + " needs x[" + (long) n * sampleSize + "], y[" + n + "]; got x["
                    + x.length + "], y[" + y.length + "]");
        }
    }
}
