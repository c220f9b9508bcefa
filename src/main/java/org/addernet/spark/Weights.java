package org.addernet.spark;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The model state the driver broadcasts: parameters and BN buffers in the model's flat layouts, and a version
 * unique within the driver JVM, so an executor copies a broadcast into its model only once however many tasks
 * it runs, and never mistakes another job's weights for these (several jobs may share one application, and in
 * local mode the executors share the driver's JVM). Serializable (Java serialization) for the small models whose tasks carry
 * their weights ({@link SparkJob.WeightsRef}); Kryo otherwise.
 */
public record Weights(long version, float[] params, float[] buffers) implements java.io.Serializable {
    private static final AtomicLong NEXT = new AtomicLong();

    /** A snapshot of these arrays (copied: the driver goes on updating its own) under a fresh version. */
    public static Weights snapshot(float[] params, float[] buffers) {
        return new Weights(NEXT.incrementAndGet(), params.clone(), buffers.clone());
    }
}
