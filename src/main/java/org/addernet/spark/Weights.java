package org.addernet.spark;

/**
 * The model state the driver broadcasts before each step: parameters and BN buffers in the model's flat
 * layouts, and a version (the optimizer step count) so an executor copies them into its model only once per
 * version, however many tasks it runs.
 */
public record Weights(long version, float[] params, float[] buffers) {}
