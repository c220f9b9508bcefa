package org.addernet.spark;

import org.apache.spark.util.AccumulatorV2;

/**
 * A Spark accumulator of a fixed number of long sums: each task adds its own array (slot by slot), Spark merges the
 * tasks' copies on the driver. The step timings' task phases and counters ({@link StepTimings}, {@link ShardedTimings})
 * use it; the meaning of each slot is theirs. Synchronized: in local mode a step group's tasks run in the driver's JVM
 * and add into the driver's own copy from W threads at once (no serialized copy per task), where unsynchronized adds could lose counts.
 */
final class LongSums extends AccumulatorV2<long[], long[]> {
    private static final long serialVersionUID = 1L;
    private final int slots;
    private long[] v;

    LongSums(int slots) {
        this.slots = slots;
        this.v = new long[slots];
    }

    @Override
    public synchronized boolean isZero() {
        for (long x : v) if (x != 0) return false;
        return true;
    }

    @Override
    public synchronized LongSums copy() {
        LongSums c = new LongSums(slots);
        c.v = v.clone();
        return c;
    }

    @Override
    public synchronized void reset() {
        v = new long[slots];
    }

    @Override
    public synchronized void add(long[] o) {
        for (int i = 0; i < slots; i++) v[i] += o[i];
    }

    @Override
    public void merge(AccumulatorV2<long[], long[]> other) {
        add(other.value());
    }

    @Override
    public synchronized long[] value() {
        return v;
    }
}
