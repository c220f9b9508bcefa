package org.addernet.spark;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Serializable;
import java.lang.ref.SoftReference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.addernet.data.BatchAssembler;
import org.addernet.data.Datasets;
import org.addernet.data.EncodedImages;
import org.addernet.data.ImageDataset;
import org.addernet.data.ImageFolder;
import org.addernet.data.ImageTransforms;
import org.addernet.data.JpegSamples;
import org.addernet.data.Samples;
import org.addernet.train.Recipe;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.SerializableConfiguration;
import scala.Tuple2;

/**
 * A split as the Spark jobs see it: a cached RDD of W partitions, partition p holding shard p (DESIGN.md §4:
 * samples stay in their partition), and the shard sizes the {@link org.addernet.data.Sampler} needs.
 *
 * <ul>
 *   <li><b>In-memory datasets</b> (MNIST, CIFAR): the decoded dataset is broadcast once and each partition keeps
 *   its strided {@link ImageDataset} shard ({@code i % W == p}), MEMORY_ONLY: tasks carry only their partition
 *   number.</li>
 *   <li><b>Images</b> ({@code imagenet}: an ImageFolder tree or the Parquet shards of {@code prepare}): the
 *   compressed bytes are read in parallel tasks, validated (ImageFolder only: every file decoded once, so an
 *   unreadable file is reported by path before training starts rather than hours into it), moved by one shuffle
 *   to partition {@code id % W}, sorted by id and cut into {@link EncodedImages} chunks of at most
 *   {@link Recipe#IMAGE_CHUNK_BYTES}, and cached at the recipe's {@code image_cache} level (MEMORY_AND_DISK_SER by
 *   default). Decoded images are never cached: tasks decode and augment each step's samples on the engine's
 *   threads.</li>
 * </ul>
 *
 * <p>With a serialized storage level every access would deserialize the whole shard again; an executor keeps the
 * shard it last deserialized behind a {@link SoftReference} ({@link #chunks}), so steady-state steps read it
 * from memory and a JVM short of heap drops it and falls back to Spark's copy.
 */
final class SparkData implements AutoCloseable {

    private static final Map<String, SoftReference<List<EncodedImages>>> EXECUTOR_CACHE = new ConcurrentHashMap<>();

    final JavaRDD<Object> shards;
    final int[] shardSizes;
    /** Names this split's executor-side cache entries (RDD ids repeat across SparkContexts in one JVM). */
    final String cacheKey;
    private final Broadcast<?> broadcast;

    private SparkData(JavaRDD<Object> shards, int[] shardSizes, String cacheKey, Broadcast<?> broadcast) {
        this.shards = shards;
        this.shardSizes = shardSizes;
        this.cacheKey = cacheKey;
        this.broadcast = broadcast;
    }

    int count() {
        return Arrays.stream(shardSizes).sum();
    }

    /**
     * The training or test split of a recipe in {@code workers} cached shards; image splits log what they skip.
     * {@code contiguous}: partition p holds the ids {@code [p*n/W, (p+1)*n/W)} instead of {@code id % W == p}
     * (batch inference, whose output files then follow each other in id order).
     */
    static SparkData of(SparkSession spark, Recipe recipe, boolean train, List<String> classes, int workers, boolean contiguous,
                        PrintStream log) throws IOException {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        if (!recipe.images) return inMemory(jsc, recipe.dataset(train), workers, contiguous, train ? "train" : "test");
        return images(spark, recipe, train, classes, workers, contiguous, log);
    }

    /** The training classes of an image dataset: the train split's class folders, or prepare's {@code classes.txt}. */
    static List<String> imageClasses(Configuration hadoop, Recipe recipe) throws IOException {
        String root = recipe.config.get("data_dir");
        if (parquet(hadoop, recipe)) return PrepareJob.readClasses(hadoop, root);
        return ImageFolder.classes(hadoop, ImageFolder.splitDir(root, "train"));
    }

    static boolean parquet(Configuration hadoop, Recipe recipe) throws IOException {
        String format = recipe.config.get("data_format");
        if (!format.equals("auto")) return format.equals("parquet");
        Path marker = new Path(recipe.config.get("data_dir"), PrepareJob.MARKER);
        return marker.getFileSystem(hadoop).exists(marker);
    }

    static SparkData inMemory(JavaSparkContext jsc, ImageDataset data, int workers, boolean contiguous, String what) {
        int n = data.count();
        if (n < workers) throw new IllegalArgumentException(workers + " workers for " + n + " " + what + " samples");
        Broadcast<ImageDataset> all = jsc.broadcast(data);
        List<Integer> ids = new ArrayList<>();
        for (int p = 0; p < workers; p++) ids.add(p);
        // A contiguous block shares the broadcast's arrays; a strided shard is a compact copy.
        JavaRDD<Object> rdd = jsc.parallelize(ids, workers)
                .map(p -> (Object) (contiguous ? all.value().subset(block(p, n, workers), block(p + 1, n, workers))
                        : all.value().strided(p, workers)))
                .setName(what + " shards").persist(StorageLevel.MEMORY_ONLY());
        rdd.count();
        int[] sizes = new int[workers];
        for (int p = 0; p < workers; p++) {
            sizes[p] = contiguous ? block(p + 1, n, workers) - block(p, n, workers) : (n - p + workers - 1) / workers;
        }
        return new SparkData(rdd, sizes, UUID.randomUUID().toString(), all);
    }

    /** Start of contiguous block p of n ids over w partitions. */
    static int block(int p, long n, int w) {
        return (int) (n * p / w);
    }

    static SparkData images(SparkSession spark, Recipe recipe, boolean train, List<String> classes, int workers, boolean contiguous,
                            PrintStream log) throws IOException {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hadoop = jsc.hadoopConfiguration();
        String root = recipe.config.get("data_dir");
        String split = train ? "train" : "val";
        int limit = recipe.config.getInt(train ? "train_limit" : "test_limit");
        CollectionAccumulator<String> bad = jsc.sc().collectionAccumulator("unreadable " + split + " images");
        // Kept until close: a lost cached partition is recomputed by reading its files again.
        Broadcast<SerializableConfiguration> conf = jsc.broadcast(new SerializableConfiguration(hadoop));
        long listed;
        JavaRDD<Object> rdd;
        String what = split + " images";
        try {
            JavaRDD<ImageRecord> records;
            long total;
            if (parquet(hadoop, recipe)) {
                String dir = new Path(root, split).toString();
                total = PrepareJob.readCount(hadoop, root, split);
                long all = total;
                listed = limit > 0 ? Math.min(limit, total) : total;
                records = spark.read().parquet(dir).select("id", "label", "path", "image").javaRDD()
                        .filter(r -> ImageFolder.keep(r.getInt(0), all, limit))
                        .map(r -> new ImageRecord(r.getInt(0), r.getInt(1), r.getString(2), (byte[]) r.get(3)));
            } else {
                List<ImageFolder.Entry> all = list(jsc, conf, ImageFolder.splitDir(root, split), classes);
                total = all.size();
                List<ImageFolder.Entry> entries = ImageFolder.limit(all, limit);
                listed = entries.size();
                records = read(jsc, conf, entries, bad);
            }
            rdd = shards(records, new ShardPartitioner(workers, contiguous ? total : 0), classes.size(), what)
                    .persist(storageLevel(recipe.config.get("image_cache")));
        } catch (RuntimeException | IOException e) {
            conf.destroy();
            throw e;
        }
        String key = UUID.randomUUID().toString();
        int[] sizes = new int[workers];
        SparkData d = new SparkData(rdd, sizes, key, conf);
        List<String> rejected;
        try {
            jsc.setJobDescription(String.format(Locale.ROOT, "caching %d compressed %s in %d shards (%s)", listed, what, workers,
                    recipe.config.get("image_cache")));
            for (Tuple2<Integer, Integer> t : rdd.mapPartitionsWithIndex((p, it) -> {
                List<EncodedImages> chunks = new ArrayList<>();
                it.forEachRemaining(o -> chunks.add((EncodedImages) o));
                EXECUTOR_CACHE.put(key + "/" + p, new SoftReference<>(chunks));
                int n = 0;
                for (EncodedImages c : chunks) n += c.count();
                return List.of(new Tuple2<>(p, n)).iterator();
            }, true).collect()) {
                sizes[t._1()] = t._2();
            }
            rejected = new ArrayList<>(new LinkedHashSet<>(bad.value())); // a retried task reports again
            rejected.sort(null);
            ImageFolder.checkRejected(rejected, recipe.maxBadImages, root + "/" + split, log);
            for (int p = 0; p < workers; p++) {
                if (sizes[p] == 0) throw new IllegalArgumentException(split + " shard " + p + " of " + workers + " is empty: "
                        + Arrays.stream(sizes).sum() + " images for " + workers + " workers");
            }
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
        log.printf(Locale.ROOT, "%s: %d of %d listed %s cached in %d shards%s%n", root, d.count(), listed, what, workers,
                rejected.isEmpty() ? "" : ", " + rejected.size() + " unreadable skipped");
        return d;
    }

    /** The split's images, listing the class folders in parallel tasks (thousands of folders on S3 take a while). */
    static List<ImageFolder.Entry> list(JavaSparkContext jsc, Broadcast<SerializableConfiguration> conf, String splitDir,
                                        List<String> classes) throws IOException {
        return ImageFolder.list(conf.value().value(), splitDir, classes, dirs -> {
            jsc.setJobDescription("listing " + dirs.size() + " class folders of " + splitDir);
            List<Integer> idx = new ArrayList<>();
            for (int c = 0; c < dirs.size(); c++) idx.add(c);
            List<List<String>> perClass = new ArrayList<>();
            for (String[] files : jsc.parallelize(idx, Math.max(1, Math.min(idx.size(), 4 * jsc.defaultParallelism())))
                    .map(c -> dirs.get(c) == null ? new String[0] : ImageFolder.listClass(conf.value().value(), dirs.get(c)).toArray(new String[0]))
                    .collect()) {
                perClass.add(List.of(files));
            }
            return perClass;
        });
    }

    /**
     * Reads and validates the files in parallel tasks, one image at a time as the shuffle consumes them; unreadable
     * ones go to {@code bad} as "path: problem". {@code conf} must live as long as the result may be recomputed.
     */
    static JavaRDD<ImageRecord> read(JavaSparkContext jsc, Broadcast<SerializableConfiguration> conf, List<ImageFolder.Entry> entries,
                                     CollectionAccumulator<String> bad) {
        // About 1,000 files per task: enough tasks to balance, few enough to schedule cheaply.
        int slices = Math.max(jsc.defaultParallelism(), entries.size() / 1000);
        return jsc.parallelize(entries, slices).flatMap(e -> {
            byte[] b = ImageFolder.readChecked(conf.value().value(), e.path(), bad::add);
            return (b == null ? List.<ImageRecord>of() : List.of(new ImageRecord(e.id(), e.label(), e.path(), b))).iterator();
        });
    }

    /** Partitioned by id, sorted by id, in chunks; one shuffle of the compressed bytes. */
    static JavaRDD<Object> shards(JavaRDD<ImageRecord> records, ShardPartitioner partitioner, int numClasses, String what) {
        return records.mapToPair(r -> new Tuple2<>(r.id(), r))
                .repartitionAndSortWithinPartitions(partitioner)
                .mapPartitions(it -> new Iterator<Object>() {
                    @Override
                    public boolean hasNext() {
                        return it.hasNext();
                    }

                    @Override
                    public Object next() {
                        EncodedImages.Builder b = EncodedImages.builder(what, numClasses);
                        do {
                            ImageRecord r = it.next()._2();
                            b.add(r.id(), r.label(), r.path(), r.bytes());
                        } while (it.hasNext() && b.byteSize() < Recipe.IMAGE_CHUNK_BYTES);
                        return b.build();
                    }
                })
                .setName(what);
    }

    static StorageLevel storageLevel(String name) {
        try {
            return StorageLevel.fromString(name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("config key 'image_cache': unknown storage level '" + name
                    + "' (e.g. MEMORY_AND_DISK_SER, MEMORY_AND_DISK, MEMORY_ONLY, DISK_ONLY)");
        }
    }

    /** Partition {@code id % W} (the Sampler's shards), or with {@code total > 0} contiguous blocks of ids. */
    static final class ShardPartitioner extends Partitioner {
        private final int workers;
        private final long total;

        ShardPartitioner(int workers, long total) {
            this.workers = workers;
            this.total = total;
        }

        @Override
        public int numPartitions() {
            return workers;
        }

        @Override
        public int getPartition(Object key) {
            int id = (Integer) key;
            if (total == 0) return id % workers;
            int p = (int) (id * (long) workers / total); // block(p) <= id; the next block may start at id too
            while (p + 1 < workers && block(p + 1, total, workers) <= id) p++;
            return p;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ShardPartitioner s && s.workers == workers && s.total == total;
        }

        @Override
        public int hashCode() {
            return Long.hashCode(workers * 31L + total);
        }
    }

    /** What a task needs to turn its partition into {@link Samples}; small and serializable. */
    record SampleSettings(String dataset, long seed, boolean augment, int imageSize, int evalResize, int numClasses, float[] mean,
                          float[] std) implements Serializable {
        static SampleSettings of(Recipe r, int numClasses) {
            return new SampleSettings(r.spec.name(), r.seed, r.augment, r.imageSize, r.evalResize, numClasses, r.mean, r.std);
        }

        /** Partition {@code partition} of {@code data} as samples, augmented when {@code train} and the recipe says so. */
        Samples samples(Iterator<Object> part, int partition, String cacheKey, boolean train) {
            Datasets.Spec s = Datasets.spec(dataset);
            if (s.augmentation() != Datasets.Augmentation.IMAGENET) {
                ImageDataset shard = (ImageDataset) part.next();
                return new BatchAssembler(shard, mean, std, train && augment, seed);
            }
            return new JpegSamples(dataset + "[" + partition + "]", chunks(part, cacheKey + "/" + partition),
                    new ImageTransforms(imageSize, evalResize, ImageTransforms.MIN_SCALE, ImageTransforms.MAX_SCALE, ImageTransforms.MIN_RATIO,
                            ImageTransforms.MAX_RATIO, mean, std), train && augment, seed);
        }
    }

    /** The partition's chunks, from this executor's soft cache when it still holds them. */
    static List<EncodedImages> chunks(Iterator<Object> part, String key) {
        SoftReference<List<EncodedImages>> ref = EXECUTOR_CACHE.get(key);
        List<EncodedImages> cached = ref == null ? null : ref.get();
        if (cached != null) return cached;
        List<EncodedImages> chunks = new ArrayList<>();
        part.forEachRemaining(o -> chunks.add((EncodedImages) o));
        EXECUTOR_CACHE.put(key, new SoftReference<>(chunks));
        return chunks;
    }

    @Override
    public void close() {
        shards.unpersist(false);
        if (broadcast != null) broadcast.destroy();
        EXECUTOR_CACHE.keySet().removeIf(k -> k.startsWith(cacheKey + "/")); // the driver's own (local mode)
    }
}
