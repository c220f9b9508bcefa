package org.addernet.data;

/**
 * Compressed images (JPEG as stored, or whatever {@link JpegDecoder} reads) with their ids, labels and source paths,
 * numbered {@code 0..count-1} in id order; what {@link JpegSamples} decodes. Implementations: a list of
 * {@link EncodedImages} chunks in heap (single process, benchmarks; {@link JpegSamples}' list constructor) and {@link LocalShard} (a file on the executor's local disk, read per
 * step). Implementations are safe for concurrent reads.
 */
public interface CompressedImages {
    /** Image bytes {@code data[offset, offset + length)}; treat as read-only. */
    record Bytes(byte[] data, int offset, int length) {}

    String name();

    int count();

    int numClasses();

    /** Image {@code i}'s index in the whole dataset: keys its augmentation draws and its worker ({@link Buckets}). */
    int id(int i);

    int label(int i);

    /** Where image {@code i} came from, for error messages and predictions. */
    String path(int i);

    /** Image {@code i}'s compressed bytes. */
    Bytes bytes(int i);
}
