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
 *   <li>{@link org.addernet.data.Samples}: a dataset or shard as the trainer sees it (ids, labels, {@code fill}).</li>
 *   <li>{@link org.addernet.data.Sampler}: which shard positions partition p uses at step s of epoch e.</li>
 *   <li>{@link org.addernet.data.BatchAssembler}: {@code Samples} over an {@code ImageDataset}.</li>
 * </ul>
 * The ImageNet-scale JPEG pipeline (compressed images held, decoded and augmented per batch):
 * <ul>
 *   <li>{@link org.addernet.data.ImageFolder}: the ImageFolder layout (torchvision's numbering), listed and read
 *       through the Hadoop FileSystem API; bad files counted against {@code max_bad_images}.</li>
 *   <li>{@link org.addernet.data.Buckets}: the one function from image id to worker, {@code (id % B) % W}.</li>
 *   <li>{@link org.addernet.data.CompressedImages}: compressed images with ids, labels, paths, read one at a time.</li>
 *   <li>{@link org.addernet.data.EncodedImages}: a chunk of compressed images in heap (one blob + offsets), labels, ids, paths.</li>
 *   <li>{@link org.addernet.data.LocalShard}: a worker's shard as one local file plus an index in heap, read per
 *       image, with an optional in-heap record budget.</li>
 *   <li>{@link org.addernet.data.JpegDecoder}: bytes to {@link org.addernet.data.RgbImage} (HWC uint8) as PIL decodes them.</li>
 *   <li>{@link org.addernet.data.BilinearResize}: PIL's antialiased BILINEAR resize, bit-exact.</li>
 *   <li>{@link org.addernet.data.ImageTransforms}: torchvision's ImageNet train (RandomResizedCrop, flip) and eval
 *       (Resize, CenterCrop) transforms, normalized to CHW floats.</li>
 *   <li>{@link org.addernet.data.JpegSamples}: {@link org.addernet.data.Samples} over compressed images, decoding in parallel.</li>
 *   <li>{@link org.addernet.data.SyntheticImageNet}: a synthetic ImageFolder tree for benchmarks and tests.</li>
 * </ul>
 *
 * <p>Every random choice here (shuffle, crop offset or box, flip) comes from
 * {@link org.addernet.engine.Rng#derive} keyed by (seed, epoch, partition) or (seed, epoch, sample index),
 * so a batch is a pure function of those keys: independent of thread count, batch composition and of
 * which worker computes it. Nothing here imports Spark or the engine's layers.
 */
package org.addernet.data;
