package org.addernet.data;

/**
 * The one function that assigns image ids to workers, in every path (the Spark job on prepared buckets or on an
 * ImageFolder tree, and the single-process trainer emulating W workers): image {@code id} lives in bucket
 * {@code id % B} and bucket {@code b} belongs to worker {@code b % W}, so worker {@code (id % B) % W}.
 *
 * <p>{@code prepare} fixes B when it writes the bucket folders ({@link #DEFAULT} unless told otherwise); any
 * {@code W <= B} then reads the same files, each worker only its own buckets, and shards differ by at most one
 * bucket's size. When W divides B this is {@code id % W}, the strided shards of the in-memory datasets.
 */
public final class Buckets {
    /** Default bucket count: enough for clusters of hundreds of workers, and the same for prepare and ImageFolder input. */
    public static final int DEFAULT = 1024;

    private Buckets() {}

    /** The bucket of image {@code id} among {@code buckets}. */
    public static int bucket(int id, int buckets) {
        return id % buckets;
    }

    /** The worker (partition) of image {@code id}: {@code (id % B) % W}. */
    public static int worker(int id, int buckets, int workers) {
        return (id % buckets) % workers;
    }

    /** The worker that reads bucket {@code b}. */
    public static int owner(int bucket, int workers) {
        return bucket % workers;
    }

    /** Checks that {@code workers} workers can share {@code buckets} buckets; {@code what} names the data in the error. */
    public static void check(int buckets, int workers, String what) {
        if (buckets < 1) throw new IllegalArgumentException(what + ": bucket count must be >= 1, got " + buckets);
        if (workers < 1) throw new IllegalArgumentException("workers must be >= 1, got " + workers);
        if (workers > buckets) {
            throw new IllegalArgumentException(workers + " workers for the " + buckets + " buckets of " + what
                    + ": every worker needs a bucket; use workers <= " + buckets + " (or re-run prepare with --buckets >= " + workers + ")");
        }
    }
}
