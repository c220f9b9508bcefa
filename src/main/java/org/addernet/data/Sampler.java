package org.addernet.data;

import org.addernet.engine.Rng;

/**
 * Which samples partition {@code p} of {@code W} uses at step {@code s} of epoch {@code e}
 * (DESIGN.md section 4: samples stay in their partition).
 *
 * <p><b>Shards.</b> Partition {@code p} holds a fixed shard of {@code shardSize(p)} samples for the whole run;
 * the sampler deals in <em>positions</em> {@code 0..shardSize(p)-1} inside it. For in-memory datasets the shard
 * is strided ({@link ImageDataset#strided}: position {@code k} of shard {@code p} is dataset sample
 * {@code p + k*W}), strided rather than contiguous because datasets stored class by class (ImageFolder, some
 * CSVs) would otherwise give each worker a few classes only, and its batch-norm statistics would be biased.
 * Image shards are strided by image id the same way, less the images that failed validation, so their sizes
 * are given explicitly.
 *
 * <p><b>Order.</b> Each epoch the shard is permuted with {@code Rng.derive(seed, Rng.SHUFFLE, epoch, p)}; step {@code s}
 * takes the next {@code B/W} positions of that permutation. {@code B} must be divisible by {@code W}. With
 * {@code W = 1} this is an ordinary full reshuffle every epoch.
 *
 * <p><b>Last batch.</b> {@code dropLast = false} (the default for {@code W = 1}, as PyTorch's DataLoader):
 * {@code ceil(maxShard / (B/W))} steps, every sample once per epoch, the last step may be smaller and, for
 * {@code W > 1}, a worker's share of it may be smaller than the others' or empty. {@code dropLast = true}
 * (the default for {@code W > 1}): {@code floor(minShard / (B/W))} steps of exactly {@code B/W} samples per
 * worker, so every step has the full global batch {@code B} split evenly, and each worker's batch-norm
 * statistics are over the same count; the at most {@code B/W} samples per shard left at the end of a
 * permutation are skipped that epoch (a different set each epoch).
 *
 * <p>Immutable apart from a cache of each partition's last permutation, so it is safe to share across threads. One
 * entry per partition: in local mode (and in the single process emulating W workers) the W partitions share one
 * sampler, and a single entry made every step recompute a permutation of the shard for every partition.
 */
public final class Sampler {
    private final int[] shardSizes;
    private final int size;
    private final int workers;
    private final int globalBatch;
    private final int perWorker;
    private final long seed;
    private final boolean dropLast;
    private final int steps;

    private record Order(int epoch, int partition, int[] positions) {
    }

    /** Per partition: the permutation of the last epoch asked for (an immutable Order, so racy publication is safe). */
    private final java.util.concurrent.atomic.AtomicReferenceArray<Order> cached;

    /** Strided shards of a dataset of {@code size} samples, with the default last-batch policy: keep it for one worker, drop it for several. */
    public Sampler(int size, int workers, int globalBatch, long seed) {
        this(size, workers, globalBatch, seed, workers > 1);
    }

    public Sampler(int size, int workers, int globalBatch, long seed, boolean dropLast) {
        this(stridedSizes(size, workers), globalBatch, seed, dropLast);
    }

    /** Shards of the given sizes (one per partition). */
    public Sampler(int[] shardSizes, int globalBatch, long seed, boolean dropLast) {
        int w = shardSizes.length;
        if (w < 1) throw new IllegalArgumentException("workers must be >= 1, got " + w);
        if (globalBatch < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + globalBatch);
        if (globalBatch % w != 0) {
            throw new IllegalArgumentException("global batch size " + globalBatch + " is not divisible by the "
                    + w + " workers: each worker takes B/W samples per step; choose a batch size that is a"
                    + " multiple of " + w);
        }
        long total = 0;
        int minShard = Integer.MAX_VALUE, maxShard = 0;
        for (int p = 0; p < w; p++) {
            if (shardSizes[p] < 1) throw new IllegalArgumentException("shard " + p + " of " + w + " is empty: use fewer workers");
            total += shardSizes[p];
            minShard = Math.min(minShard, shardSizes[p]);
            maxShard = Math.max(maxShard, shardSizes[p]);
        }
        this.shardSizes = shardSizes.clone();
        this.size = Math.toIntExact(total);
        this.workers = w;
        this.globalBatch = globalBatch;
        this.perWorker = globalBatch / w;
        this.seed = seed;
        this.dropLast = dropLast;
        this.steps = dropLast ? minShard / perWorker : (maxShard + perWorker - 1) / perWorker;
        this.cached = new java.util.concurrent.atomic.AtomicReferenceArray<>(w);
        if (steps == 0) {
            throw new IllegalArgumentException("batch of " + perWorker + " per worker is larger than the smallest shard ("
                    + minShard + " samples of " + size + " over " + w + " workers): an epoch would have no step");
        }
    }

    /** Sizes of the strided shards {@code i % workers == p} of {@code size} samples. */
    public static int[] stridedSizes(int size, int workers) {
        if (size < 1) throw new IllegalArgumentException("dataset is empty");
        if (workers < 1) throw new IllegalArgumentException("workers must be >= 1, got " + workers);
        if (workers > size) {
            throw new IllegalArgumentException(workers + " workers for " + size + " samples: some shards would be empty");
        }
        int[] s = new int[workers];
        for (int p = 0; p < workers; p++) s[p] = (size - p + workers - 1) / workers;
        return s;
    }

    public int stepsPerEpoch() {
        return steps;
    }

    /** Samples over all shards. */
    public int size() {
        return size;
    }

    public int workers() {
        return workers;
    }

    public int globalBatch() {
        return globalBatch;
    }

    /** B/W: the samples one worker takes per full step. */
    public int perWorkerBatch() {
        return perWorker;
    }

    public boolean dropLast() {
        return dropLast;
    }

    /** Number of samples in partition {@code p}'s shard. */
    public int shardSize(int partition) {
        checkPartition(partition);
        return shardSizes[partition];
    }

    /** Partition {@code p}'s shard positions in epoch {@code e}'s order. Do not modify the result. */
    public int[] epochOrder(int epoch, int partition) {
        checkPartition(partition);
        if (epoch < 0) throw new IllegalArgumentException("epoch must be >= 0, got " + epoch);
        Order c = cached.get(partition);
        if (c != null && c.epoch == epoch && c.partition == partition) return c.positions;
        int[] perm = Rng.derive(seed, Rng.SHUFFLE, epoch, partition).permutation(shardSizes[partition]);
        cached.set(partition, new Order(epoch, partition, perm));
        return perm;
    }

    /** Size of the whole global batch at a step: the sum of every partition's share (B except maybe at the end). */
    public int globalBatchAt(int step) {
        checkStep(step);
        int total = 0;
        for (int p = 0; p < workers; p++) {
            int from = Math.min(step * perWorker, shardSizes[p]);
            total += Math.min(from + perWorker, shardSizes[p]) - from;
        }
        return total;
    }

    /** The shard positions partition {@code p} uses at step {@code s} of epoch {@code e} (a fresh array). */
    public int[] indices(int epoch, int partition, int step) {
        checkStep(step);
        int[] order = epochOrder(epoch, partition);
        int from = Math.min(step * perWorker, order.length);
        int to = Math.min(from + perWorker, order.length);
        int[] out = new int[to - from];
        System.arraycopy(order, from, out, 0, out.length);
        return out;
    }

    private void checkStep(int step) {
        if (step < 0 || step >= steps) {
            throw new IndexOutOfBoundsException("step " + step + " of an epoch of " + steps + " steps");
        }
    }

    private void checkPartition(int p) {
        if (p < 0 || p >= workers) throw new IndexOutOfBoundsException("partition " + p + " of " + workers);
    }
}
