package org.addernet.spark;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.addernet.data.DataFormatException;
import org.addernet.data.ImageFolder;
import org.addernet.data.JpegSamples;
import org.addernet.data.LocalShard;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.spark.SparkEnv;
import org.apache.spark.deploy.SparkHadoopUtil;
import org.apache.spark.util.LongAccumulator;

/**
 * Executor side of the image shards: partition p's compressed images written once to a {@link LocalShard} file in
 * the executor's local directory ({@code spark.local.dir}, through the block manager's temporary blocks, which Spark
 * deletes when the executor exits). Spark caches only the shard's small index (MEMORY_ONLY), so it knows where
 * partition p lives and sends p's tasks there; losing the executor loses the index, and recomputing partition p
 * re-reads only its own buckets (prepared data) or its shuffle output (ImageFolder input).
 *
 * <p>A JVM-wide registry keyed by (split key, partition) finds a shard staged here before: an index that Spark's
 * memory store evicted is recomputed without reading anything again, and an index that arrived from another executor
 * (a task placed away from its data) is rebuilt here once, from its sources, then reused.
 */
final class LocalShards {
    private static final Map<String, LocalShard> REGISTRY = new ConcurrentHashMap<>();

    private LocalShards() {}

    /** What every staging task needs; serializable. */
    record Stage(String key, String name, int numClasses, LongAccumulator images, LongAccumulator bytes) implements java.io.Serializable {}

    private static String id(String key, int partition) {
        return key + "/" + partition;
    }

    /** A new file in the executor's local directory (a temporary file outside Spark, e.g. in a unit test without SparkEnv). */
    static File newFile() throws IOException {
        SparkEnv env = SparkEnv.get();
        if (env == null) {
            File f = File.createTempFile("addernet-shard-", ".bin");
            f.deleteOnExit();
            return f;
        }
        return env.blockManager().diskBlockManager().createTempLocalBlock()._2();
    }

    /** The shard staged here before under this key and partition, if its file is still there. */
    private static LocalShard staged(String key, int partition) {
        LocalShard s = REGISTRY.get(id(key, partition));
        return s != null && s.present() ? s : null;
    }

    private static LocalShard register(String key, int partition, LocalShard s) {
        LocalShard old = REGISTRY.put(id(key, partition), s);
        if (old != null && old != s && !old.file().equals(s.file())) old.close(true);
        return s;
    }

    /**
     * Partition {@code p}'s shard of a prepared split: reads the Parquet files of its buckets (rows whose id
     * {@code keep} accepts), decoding each image once more if {@code verify} (unreadable ones go to {@code bad}).
     */
    static LocalShard fromBuckets(Stage st, int p, List<String> files, Configuration conf, long total, int limit, boolean verify,
                                  Consumer<String> bad) throws IOException {
        LocalShard have = staged(st.key(), p);
        if (have != null) return have;
        File file = newFile();
        LocalShard.Writer w = LocalShard.writer(st.name() + "[" + p + "]", st.numClasses(), file, files.toArray(new String[0]));
        try {
            for (String f : files) {
                readBucket(conf, f, (id, label, path, bytes) -> {
                    if (!ImageFolder.keep(id, total, limit)) return;
                    if (verify) {
                        try {
                            JpegSamples.validate(bytes, path);
                        } catch (DataFormatException e) {
                            bad.accept(path + ": " + e.getMessage());
                            return;
                        }
                    }
                    w.add(id, label, path, bytes, 0, bytes.length);
                    st.images().add(1);
                });
                st.bytes().add(new Path(f).getFileSystem(conf).getFileStatus(new Path(f)).getLen());
            }
            return register(st.key(), p, w.finish());
        } catch (IOException | RuntimeException e) {
            w.delete();
            throw e;
        }
    }

    /** Partition {@code p}'s shard from the records the shuffle delivers (already validated, sorted by id). */
    static LocalShard fromRecords(Stage st, int p, Iterator<ImageRecord> records) throws IOException {
        LocalShard have = staged(st.key(), p);
        if (have != null) return have;
        LocalShard.Writer w = LocalShard.writer(st.name() + "[" + p + "]", st.numClasses(), newFile(), new String[0]);
        try {
            while (records.hasNext()) {
                ImageRecord r = records.next();
                w.add(r.id(), r.label(), r.path(), r.bytes(), 0, r.bytes().length);
            }
            return register(st.key(), p, w.finish());
        } catch (IOException | RuntimeException e) {
            w.delete();
            throw e;
        }
    }

    /** One row of a bucket file. */
    interface RowSink {
        void accept(int id, int label, String path, byte[] bytes) throws IOException;
    }

    /** Reads every row of one bucket file with parquet-hadoop (no Spark job: this runs inside a task). */
    static void readBucket(Configuration conf, String file, RowSink sink) throws IOException {
        try (ParquetReader<Group> r = ParquetReader.builder(new GroupReadSupport(), new Path(file)).withConf(conf).build()) {
            for (Group g = r.read(); g != null; g = r.read()) {
                sink.accept(g.getInteger("id", 0), g.getInteger("label", 0), g.getString("path", 0), g.getBinary("image", 0).getBytes());
            }
        } catch (RuntimeException e) {
            throw new DataFormatException(file + ": unreadable bucket file (" + e + "); re-run addernet prepare");
        }
    }

    /**
     * {@code s} with its file on this machine: as it is when the file is here, else the copy staged here before, else
     * rebuilt from its sources (the bucket files, or each image's own path) into a new local file.
     */
    static LocalShard local(LocalShard s, String key, int partition) {
        if (s.present()) return s;
        synchronized (LocalShards.class) {
            LocalShard have = staged(key, partition);
            if (have != null) return have;
            try {
                return register(key, partition, rebuild(s));
            } catch (IOException e) {
                throw new UncheckedIOException(s.name() + ": cannot rebuild the shard on this executor", e);
            }
        }
    }

    private static LocalShard rebuild(LocalShard s) throws IOException {
        Configuration conf = SparkEnv.get() != null ? SparkHadoopUtil.get().newConfiguration(SparkEnv.get().conf()) : new Configuration();
        File file = newFile();
        long[] offsets = new long[s.count()];
        boolean[] seen = new boolean[s.count()];
        long[] pos = {0};
        try (java.io.OutputStream out = new java.io.BufferedOutputStream(new java.io.FileOutputStream(file), 1 << 20)) {
            RowSink sink = (id, label, path, bytes) -> {
                int i = s.indexOf(id);
                if (i < 0 || seen[i]) return;
                if (bytes.length != s.length(i)) throw new DataFormatException(path + ": " + bytes.length + " bytes, staged with " + s.length(i));
                out.write(bytes);
                offsets[i] = pos[0];
                pos[0] += bytes.length;
                seen[i] = true;
            };
            String[] sources = s.sources();
            if (sources.length > 0) {
                for (String f : sources) readBucket(conf, f, sink);
            } else {
                for (int i = 0; i < s.count(); i++) sink.accept(s.id(i), s.label(i), s.path(i), ImageFolder.read(conf, s.path(i)));
            }
        }
        for (int i = 0; i < s.count(); i++) {
            if (!seen[i]) throw new DataFormatException(s.name() + ": " + s.path(i) + " no longer in its source");
        }
        return s.withFile(file.getAbsolutePath(), offsets);
    }

    /** Forgets and deletes this JVM's shards of a split (the driver's own in local mode). */
    static void drop(String key) {
        REGISTRY.entrySet().removeIf(e -> {
            if (!e.getKey().startsWith(key + "/")) return false;
            e.getValue().close(true);
            return true;
        });
    }
}
