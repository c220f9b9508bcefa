package org.addernet.data;

import org.addernet.engine.Rng;

/**
 * Which dataset samples partition {@code p} of {@code W} uses at step {@code s} of epoch {@code e}
 * (DESIGN.md section 4: samples stay in their partition).
 *
 * <p><b>Shards.</b> Partition {@code p} holds the samples {@code i} with {@code i % W == p}, for the whole
 * run. Strided rather than contiguous because datasets stored class by class (ImageFolder, some CSVs)
 * would otherwise give each worker a few classes only, and its batch-norm statistics would be biased.
 * Shard sizes differ by at most one.
 *
 * <p><b>Order.</b> Each epoch the shard is permuted with {@code Rng.derive(seed, Rng.SHUFFLE, epoch, p)}; step {@code s}
 * takes the next {@code B/W} samples of that permutation. {@code B} must be divisible by {@code W}. With
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
 * <p>Immutable apart from a one-entry cache of the last permutation, so it is safe to share across threads.
 */
public final class Sampler {
    private final int size;
    private final int workers;
    private final int globalBatch;
    private final int perWorker;
    private final long seed;
    private final boolean dropLast;
    private final int steps;

    private record Order(int epoch, int partition, int[] indices) {
    }

    private volatile Order cached;

    /** With the default last-batch policy: keep it for one worker, drop it for several. */
    public Sampler(int size, int workers, int globalBatch, long seed) {
        this(size, workers, globalBatch, seed, workers > 1);
    }

    public Sampler(int size, int workers, int globalBatch, long seed, boolean dropLast) {
        if (size < 1) throw new IllegalArgumentException("dataset is empty");
        if (workers < 1) throw new IllegalArgumentException("workers must be >= 1, got " + workers);
        if (globalBatch < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + globalBatch);
        if (globalBatch % workers != 0) {
            throw new IllegalArgumentException("global batch size " + globalBatch + " is not divisible by the "
                    + workers + " workers: each worker takes B/W samples per step; choose a batch size that is a"
                    + " multiple of " + workers);
        }
        if (workers > size) {
            throw new IllegalArgumentException(workers + " workers for " + size + " samples: some shards would be empty");
        }
        this.size = size;
        this.workers = workers;
        this.globalBatch = globalBatch;
        this.perWorker = globalBatch / workers;
        this.seed = seed;
        this.dropLast = dropLast;
        int minShard = size / workers;
        int maxShard = (size + workers - 1) / workers;
        this.steps = dropLast ? minShard / perWorker : (maxShard + perWorker - 1) / perWorker;
        if (steps == 0) {
            throw new IllegalArgumentException("batch of " + perWorker + " per worker is larger than the smallest shard ("
                    + minShard + " samples of " + size + " over " + workers + " workers): an epoch would have no step");
        }
    }

    public int stepsPerEpoch() {
        return steps;
    }

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
        return (size - partition + workers - 1) / workers;
    }

    /** The dataset indices of partition {@code p}'s shard, ascending (fixed for the whole run). */
    public int[] shard(int partition) {
        int n = shardSize(partition);
        int[] s = new int[n];
        for (int k = 0; k < n; k++) s[k] = partition + k * workers;
        return s;
    }

    /** Partition {@code p}'s shard in epoch {@code e}'s order (dataset indices). Do not modify the result. */
    public int[] epochOrder(int epoch, int partition) {
        checkPartition(partition);
        if (epoch < 0) throw new IllegalArgumentException("epoch must be >= 0, got " + epoch);
        Order c = cached;
        if (c != null && c.epoch == epoch && c.partition == partition) return c.indices;
        int[] perm = Rng.derive(seed, Rng.SHUFFLE, epoch, partition).permutation(shardSize(partition));
        for (int k = 0; k < perm.length; k++) perm[k] = partition + perm[k] * workers;
        cached = new Order(epoch, partition, perm);
        return perm;
    }

    /** The dataset indices partition {@code p} uses at step {@code s} of epoch {@code e} (a fresh array). */
    /** Size of the whole global batch at a step: the sum of every partition's share (B except maybe at the end). */
    public int globalBatchAt(int step) {
        if (step < 0 || step >= steps) {
            throw new IndexOutOfBoundsException("step " + step + " of an epoch of " + steps + " steps");
        }
        int total = 0;
        for (int p = 0; p < workers; p++) {
            int from = Math.min(step * perWorker, shardSize(p));
            total += Math.min(from + perWorker, shardSize(p)) - from;
        }
        return total;
    }

    public int[] indices(int epoch, int partition, int step) {
        if (step < 0 || step >= steps) {
            throw new IndexOutOfBoundsException("step " + step + " of an epoch of " + steps + " steps");
        }
        int[] order = epochOrder(epoch, partition);
        int from = Math.min(step * perWorker, order.length);
        int to = Math.min(from + perWorker, order.length);
        int[] out = new int[to - from];
        System.arraycopy(order, from, out, 0, out.length);
        return out;
    }

    private void checkPartition(int p) {
        if (p < 0 || p >= workers) throw new IndexOutOfBoundsException("partition " + p + " of " + workers);
    }
}
