package org.addernet.engine;

/**
 * SplitMix64: a tiny, fully specified generator, so that weight init, shuffling and augmentation give the
 * same numbers on every JVM and every worker. Streams are derived by hashing (seed, a, b, ...) with
 * {@link #derive}, never by sharing a generator across threads, which is what makes a retried task
 * recompute exactly the same batch.
 */
public final class Rng {
    private long state;

    /** Stream tags, so that the shuffle of partition p and the augmentation of sample p never share a stream. */
    public static final long SHUFFLE = 0x5348_5546_464CL, AUGMENT = 0x4155_474DL, INIT = 0x494E_4954L;

    public Rng(long seed) {
        this.state = seed;
    }

    /** A new generator whose stream depends only on the given keys (e.g. seed, epoch, partition, index). */
    public static Rng derive(long seed, long... keys) {
        long h = mix(seed ^ 0x5DEECE66DL);
        for (long k : keys) h = mix(h ^ mix(k + 0x9E3779B97F4A7C15L));
        return new Rng(h);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public long nextLong() {
        state += 0x9E3779B97F4A7C15L;
        return mix(state);
    }

    /** Uniform in [0, 1) with 24 random bits. */
    public float nextFloat() {
        return (nextLong() >>> 40) * 0x1.0p-24f;
    }

    /** Uniform in [0, 1) with 53 random bits. */
    public double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /** Uniform integer in [0, bound), unbiased (Lemire's method). */
    public int nextInt(int bound) {
        if (bound <= 0) throw new IllegalArgumentException("bound must be positive: " + bound);
        long m = (nextLong() >>> 32) * bound;
        if ((m & 0xFFFFFFFFL) < bound) {
            long threshold = (0x1_0000_0000L - bound) % bound;
            while ((m & 0xFFFFFFFFL) < threshold) m = (nextLong() >>> 32) * bound;
        }
        return (int) (m >>> 32);
    }

    /** Standard normal by Box-Muller (one value per call; simple and deterministic). */
    public double nextGaussian() {
        double u1 = 1.0 - nextDouble(); // (0, 1], so log is finite
        double u2 = nextDouble();
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
    }

    /** Fisher-Yates permutation of 0..n-1. */
    public int[] permutation(int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
