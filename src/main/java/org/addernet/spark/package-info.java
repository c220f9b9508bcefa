/**
 * The thin Spark layer: it moves data, weights and gradients, and knows nothing of layers or kernels.
 * <ul>
 *   <li>{@link org.addernet.spark.SparkJob}: synchronous data-parallel training, one Spark job per step.</li>
 *   <li>{@link org.addernet.spark.SparkData}: a split cached as W shards (decoded in-memory datasets, or compressed
 *       images from an ImageFolder tree or prepared buckets, staged by {@link org.addernet.spark.LocalShards} into
 *       one local file per worker, with {@link org.addernet.spark.StagingProgress} on the driver).</li>
 *   <li>{@link org.addernet.spark.PrepareJob}: an ImageFolder tree packed into B Parquet buckets per split, recorded
 *       in {@link org.addernet.spark.PreparedLayout}.</li>
 *   <li>{@link org.addernet.spark.EvaluateJob}, {@link org.addernet.spark.PredictJob}: a checkpoint
 *       ({@link org.addernet.spark.LoadedCheckpoint}) evaluated or applied over a stored split.</li>
 *   <li>{@link org.addernet.spark.AdderKryoRegistrator}: every class on the wire, big arrays as bulk blocks.</li>
 *   <li>{@link org.addernet.spark.OrderedTreeReduce}: gradients summed in partition order, whatever finishes first.</li>
 * </ul>
 */
package org.addernet.spark;
