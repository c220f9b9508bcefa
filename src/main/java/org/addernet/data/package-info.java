/**
 * Data layer: readers for the datasets the paper trains on, the per-dataset defaults, the sampler that
 * assigns samples to workers and steps, and the assembler that turns samples into normalized (and
 * optionally augmented) float batches.
 *
 * <ul>
 *   <li>{@link org.addernet.data.ImageDataset}: decoded uint8 images (NCHW, sample-major) and labels.</li>
 *   <li>{@link org.addernet.data.IdxReader}: MNIST / Fashion-MNIST IDX files, gzip or raw.</li>
 *   <li>{@link org.addernet.data.CifarReader}: CIFAR-10 / CIFAR-100 binary batches.</li>
 *   <li>{@link org.addernet.data.Datasets}: dataset names, classes, shapes, normalization, augmentation.</li>
 *   <li>{@link org.addernet.data.DatasetDownloader}: where to find the files, and fetching them if absent.</li>
 *   <li>{@link org.addernet.data.Sampler}: which sample indices partition p uses at step s of epoch e.</li>
 *   <li>{@link org.addernet.data.BatchAssembler}: fills {@code float[] x, int[] y} for one batch.</li>
 * </ul>
 *
 * <p>Every random choice here (shuffle, crop offset, flip) comes from
 * {@link org.addernet.engine.Rng#derive} keyed by (seed, epoch, partition) or (seed, epoch, sample index),
 * so a batch is a pure function of those keys: independent of thread count, batch composition and of
 * which worker computes it. Nothing here imports Spark or the engine's layers.
 */
package org.addernet.data;
