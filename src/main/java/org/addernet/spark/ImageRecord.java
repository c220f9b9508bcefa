package org.addernet.spark;

/**
 * One compressed image on its way from storage (an ImageFolder file or a Parquet row) into a cached shard: its
 * id (see {@link org.addernet.data.ImageFolder}), class index, path and bytes. Travels through one shuffle, with
 * the bytes written as one block ({@link AdderKryoRegistrator}).
 */
record ImageRecord(int id, int label, String path, byte[] bytes) {}
