package org.addernet.data;

import org.addernet.engine.Rng;
import org.addernet.engine.ThreadPool;

/**
 * Turns dataset samples into a normalized float batch, optionally augmented, exactly as torchvision's
 * {@code [RandomCrop(size, padding=4), RandomHorizontalFlip()], ToTensor(), Normalize(mean, std)} would:
 * the image is padded with zero pixels <i>before</i> normalization, so a padded position comes out as
 * {@code (0 - mean[c]) / std[c]}, and values are computed in float32 as PyTorch does,
 * {@code (v / 255f - mean[c]) / std[c]}.
 *
 * <p>The random choices for sample {@code idx} in epoch {@code e} come from {@code Rng.derive(seed, Rng.AUGMENT, e, idx)}
 * only, drawn in torchvision's order: crop row offset, crop column offset (each uniform in
 * {@code [0, 2*pad]}), then flip if {@code nextFloat() < 0.5}. A sample's result therefore does not depend
 * on which batch, worker or thread assembles it. {@code idx} is the index in the {@link ImageDataset} given
 * here; the draws are keyed by the sample's {@link ImageDataset#id}, its index in the original dataset, so a
 * shard held by a worker augments each sample exactly as the whole dataset would.
 *
 * <p>Immutable: one instance may fill batches from many threads at once.
 */
public final class BatchAssembler implements Samples {
    /** RandomCrop padding of the CIFAR recipe. */
    public static final int PAD = 4;

    private final ImageDataset data;
    private final boolean augment;
    private final long seed;
    private final float[] lut; // [c * 256 + v]: normalized value of pixel v in channel c

    public BatchAssembler(ImageDataset data, float[] mean, float[] std, boolean augment, long seed) {
        int c = data.channels();
        if (mean.length != c || std.length != c) {
            throw new IllegalArgumentException(data.name() + " has " + c + " channels but mean/std have "
                    + mean.length + "/" + std.length + " values");
        }
        this.data = data;
        this.augment = augment;
        this.seed = seed;
        this.lut = new float[c * 256];
        for (int ch = 0; ch < c; ch++) {
            if (!(std[ch] > 0)) throw new IllegalArgumentException("std[" + ch + "] must be > 0, got " + std[ch]);
            for (int v = 0; v < 256; v++) lut[ch * 256 + v] = (v / 255f - mean[ch]) / std[ch];
        }
    }

    /** Uses {@code spec}'s normalization, and its augmentation when {@code train}. */
    public static BatchAssembler of(ImageDataset data, Datasets.Spec spec, boolean train, long seed) {
        boolean aug = train && spec.augmentation() == Datasets.Augmentation.CIFAR;
        return new BatchAssembler(data, spec.mean(), spec.std(), aug, seed);
    }

    public ImageDataset data() {
        return data;
    }

    public boolean augment() {
        return augment;
    }

    @Override
    public String name() {
        return data.name();
    }

    @Override
    public int count() {
        return data.count();
    }

    @Override
    public int id(int i) {
        return data.id(i);
    }

    @Override
    public int label(int i) {
        return data.label(i);
    }

    @Override
    public int numClasses() {
        return data.numClasses();
    }

    @Override
    public int[] shape() {
        return new int[] {data.channels(), data.height(), data.width()};
    }

    /** Floats per sample in {@code x}: C*H*W. */
    @Override
    public int sampleSize() {
        return data.sampleSize();
    }

    /** Fills the batch for all of {@code indices} on the calling thread. */
    public void fill(int epoch, int[] indices, float[] x, int[] y) {
        fill(epoch, indices, 0, indices.length, x, y, null);
    }

    @Override
    public void fill(int epoch, int[] indices, int from, int n, float[] x, int[] y, ThreadPool pool) {
        int s = data.sampleSize();
        Samples.checkBatch(indices, from, n, s, x, y);
        if (pool == null) {
            for (int k = 0; k < n; k++) fillOne(epoch, indices[from + k], x, k * s, y, k);
        } else {
            pool.parallelFor(n, (t, a, b) -> {
                for (int k = a; k < b; k++) fillOne(epoch, indices[from + k], x, k * s, y, k);
            });
        }
    }

    private void fillOne(int epoch, int idx, float[] x, int xOff, int[] y, int k) {
        fillSample(epoch, idx, x, xOff);
        y[k] = data.label(idx);
    }

    /** Writes dataset sample {@code idx}'s C*H*W normalized (augmented if enabled) values at {@code x[xOff]}. */
    public void fillSample(int epoch, int idx, float[] x, int xOff) {
        byte[] px = data.pixels();
        int src = data.pixelOffset(idx);
        int c = data.channels(), h = data.height(), w = data.width();
        if (!augment) {
            for (int ch = 0; ch < c; ch++) {
                int base = ch * 256;
                for (int i = ch * h * w, end = i + h * w; i < end; i++) x[xOff + i] = lut[base + (px[src + i] & 0xFF)];
            }
            return;
        }
        Rng rng = Rng.derive(seed, Rng.AUGMENT, epoch, data.id(idx));
        int dy = rng.nextInt(2 * PAD + 1) - PAD; // output row r reads input row r + dy
        int dx = rng.nextInt(2 * PAD + 1) - PAD;
        boolean flip = rng.nextFloat() < 0.5f;
        for (int ch = 0; ch < c; ch++) {
            int base = ch * 256;
            float zero = lut[base]; // a padded pixel: 0 before normalization
            for (int r = 0; r < h; r++) {
                int sr = r + dy;
                int out = xOff + (ch * h + r) * w;
                if (sr < 0 || sr >= h) {
                    for (int col = 0; col < w; col++) x[out + col] = zero;
                    continue;
                }
                int row = src + (ch * h + sr) * w;
                for (int col = 0; col < w; col++) {
                    // The flip acts on the cropped image: output column col shows cropped column w-1-col.
                    int sc = (flip ? w - 1 - col : col) + dx;
                    x[out + col] = sc < 0 || sc >= w ? zero : lut[base + (px[row + sc] & 0xFF)];
                }
            }
        }
    }
}
