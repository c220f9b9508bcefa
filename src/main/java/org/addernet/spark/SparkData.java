package org.addernet.spark;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import org.addernet.data.BatchAssembler;
import org.addernet.data.Datasets;
import org.addernet.data.Buckets;
import org.addernet.data.EncodedImages;
import org.addernet.data.ImageDataset;
import org.addernet.data.ImageFolder;
import org.addernet.data.ImageTransforms;
import org.addernet.data.JpegSamples;
import org.addernet.data.LocalShard;
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
import org.apache.spark.util.LongAccumulator;
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
 *   <li><b>Images</b> ({@code imagenet}), worker of image id {@link Buckets#worker}: {@code (id % B) % W}. Partition p
 *   stages its images once into a {@link LocalShard} (one file on the executor's local disk, an index in heap;
 *   {@link LocalShards}) and Spark caches only the index (MEMORY_ONLY), so p's tasks run where its file is. A step
 *   reads only the images it samples; decoded images are never kept.
 *   <ul>
 *     <li>Prepared data ({@code prepare}'s buckets): the recorded bucket files are checked (present, recorded
 *     sizes) in one listing, then partition p reads the buckets {@code b % W == p} directly: no shuffle, and no
 *     decode ({@code verify_images=true} decodes every image once more while staging).</li>
 *     <li>An ImageFolder tree: the files are read and fully decoded once in parallel tasks (an unreadable file is
 *     reported by path before training starts), and one shuffle moves image {@code id} to its worker, sorted by id
 *     (B = {@code buckets}, default {@link Buckets#DEFAULT}).</li>
 *   </ul></li>
 * </ul>
 */
final class SparkData implements AutoCloseable {

    final JavaRDD<Object> shards;
    final int[] shardSizes;
    /** Names this split's executor-side shards (RDD ids repeat across SparkContexts in one JVM). */
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
     * {@code contiguous}: partition p holds the ids {@code [p*n/W, (p+1)*n/W)} instead of its worker's ids (batch
     * inference, whose output files then follow each other in id order); prepared data keeps its buckets' workers
     * (files sorted by id each, without a shuffle).
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
        if (parquet(hadoop, recipe)) return PreparedLayout.read(hadoop, root).classes(); // also rejects a layout without buckets
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
        long start = System.nanoTime();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hadoop = jsc.hadoopConfiguration();
        String root = recipe.config.get("data_dir");
        String split = train ? "train" : "val";
        int limit = recipe.config.getInt(train ? "train_limit" : "test_limit");
        boolean verify = recipe.config.getBoolean("verify_images");
        CollectionAccumulator<String> bad = jsc.sc().collectionAccumulator("unreadable " + split + " images");
        // Kept until close: a lost cached partition is recomputed by reading its files again.
        Broadcast<SerializableConfiguration> conf = jsc.broadcast(new SerializableConfiguration(hadoop));
        String key = UUID.randomUUID().toString();
        String what = split + " images";
        long listed;
        JavaRDD<Object> rdd;
        StagingProgress progress = null;
        String how;
        try {
            if (parquet(hadoop, recipe)) {
                PreparedLayout layout = PreparedLayout.read(hadoop, root);
                int buckets = layout.buckets();
                int asked = recipe.config.getInt("buckets");
                if (asked != 0 && asked != buckets) {
                    throw new IllegalArgumentException("config key 'buckets' (" + asked + ") differs from the " + buckets + " buckets "
                            + root + " was prepared with (prepared data keeps its own; leave buckets at 0)");
                }
                Buckets.check(buckets, workers, root);
                List<List<String>> files = layout.checkFiles(hadoop, root, split);
                PreparedLayout.Split sp = layout.split(split, new Path(root, PrepareJob.MARKER));
                long total = sp.images();
                listed = limit > 0 ? Math.min(limit, total) : total;
                List<List<String>> perWorker = new ArrayList<>();
                for (int p = 0; p < workers; p++) perWorker.add(new ArrayList<>());
                int nFiles = 0;
                for (int b = 0; b < buckets; b++) {
                    perWorker.get(Buckets.owner(b, workers)).addAll(files.get(b));
                    nFiles += files.get(b).size();
                }
                log.printf(Locale.ROOT, "%s/%s: %d bucket files (%.1f MB) of %d images checked against %s; %d buckets over %d workers%n",
                        root, split, nFiles, sp.bytes() / 1e6, total, PrepareJob.MARKER, buckets, workers);
                progress = StagingProgress.start(jsc, "staging " + what, listed, limit > 0 ? 0 : sp.bytes(), log);
                LocalShards.Stage st = new LocalShards.Stage(key, what, classes.size(), progress.images, progress.bytes);
                List<Integer> ps = new ArrayList<>();
                for (int p = 0; p < workers; p++) ps.add(p);
                rdd = jsc.parallelize(ps, workers).mapPartitionsWithIndex((p, it) -> List.<Object>of(LocalShards.fromBuckets(st, p,
                        perWorker.get(p), conf.value().value(), total, limit, verify, bad::add)).iterator(), true);
                how = verify ? "read from their buckets and decoded" : "read from their buckets";
            } else {
                int buckets = recipe.config.getInt("buckets") > 0 ? recipe.config.getInt("buckets") : Buckets.DEFAULT;
                Buckets.check(buckets, workers, root);
                List<ImageFolder.Entry> all = list(jsc, conf, ImageFolder.splitDir(root, split), classes);
                long total = all.size();
                List<ImageFolder.Entry> entries = ImageFolder.limit(all, limit);
                listed = entries.size();
                log.printf(Locale.ROOT, "%s/%s: %d image files listed%n", root, split, listed);
                progress = StagingProgress.start(jsc, "staging " + what, listed, 0, log);
                LocalShards.Stage st = new LocalShards.Stage(key, what, classes.size(), progress.images, progress.bytes);
                rdd = read(jsc, conf, entries, bad, progress).mapToPair(r -> new Tuple2<>(r.id(), r))
                        .repartitionAndSortWithinPartitions(new ShardPartitioner(workers, buckets, contiguous ? total : 0))
                        .mapPartitionsWithIndex((p, it) -> List.<Object>of(LocalShards.fromRecords(st, p, new Iterator<ImageRecord>() {
                            @Override
                            public boolean hasNext() {
                                return it.hasNext();
                            }

                            @Override
                            public ImageRecord next() {
                                return it.next()._2();
                            }
                        })).iterator(), true);
                how = "read, decoded and shuffled";
            }
            rdd = rdd.setName(what + " (local shards)").persist(StorageLevel.MEMORY_ONLY());
        } catch (RuntimeException | IOException e) {
            if (progress != null) progress.close();
            conf.destroy();
            throw e;
        }
        int[] sizes = new int[workers];
        SparkData d = new SparkData(rdd, sizes, key, conf);
        List<String> rejected;
        try {
            jsc.setJobDescription(String.format(Locale.ROOT, "staging %d compressed %s in %d local shards", listed, what, workers));
            try {
                for (Tuple2<Integer, Integer> t : rdd.mapPartitionsWithIndex((p, it) -> List.of(new Tuple2<>(p, ((LocalShard) it.next()).count()))
                        .iterator(), true).collect()) {
                    sizes[t._1()] = t._2();
                }
            } finally {
                progress.close();
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
        log.printf(Locale.ROOT, "%s: %d of %d listed %s %s into %d local shards in %.1f s%s%n", root, d.count(), listed, what, how, workers,
                (System.nanoTime() - start) / 1e9, rejected.isEmpty() ? "" : ", " + rejected.size() + " unreadable skipped");
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
                                     CollectionAccumulator<String> bad, StagingProgress progress) {
        // About 1,000 files per task: enough tasks to balance, few enough to schedule cheaply.
        int slices = Math.max(jsc.defaultParallelism(), entries.size() / 1000);
        LongAccumulator images = progress == null ? null : progress.images, bytes = progress == null ? null : progress.bytes;
        return jsc.parallelize(entries, slices).flatMap(e -> {
            byte[] b = ImageFolder.readChecked(conf.value().value(), e.path(), bad::add);
            if (images != null) images.add(1);
            if (bytes != null && b != null) bytes.add(b.length);
            return (b == null ? List.<ImageRecord>of() : List.of(new ImageRecord(e.id(), e.label(), e.path(), b))).iterator();
        });
    }

    /** {@link #read} without progress accounting (predict --input). */
    static JavaRDD<ImageRecord> read(JavaSparkContext jsc, Broadcast<SerializableConfiguration> conf, List<ImageFolder.Entry> entries,
                                     CollectionAccumulator<String> bad) {
        return read(jsc, conf, entries, bad, null);
    }

    /**
     * Records partitioned by {@code partitioner}, sorted by id, in {@link EncodedImages} chunks of at most
     * {@link Recipe#IMAGE_CHUNK_BYTES}: the in-heap form {@code predict --input} caches for its one pass (training and
     * the stored splits stage {@link LocalShard}s instead).
     */
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

    /** Partition {@link Buckets#worker} (the Sampler's shards), or with {@code total > 0} contiguous blocks of ids. */
    static final class ShardPartitioner extends Partitioner {
        private final int workers, buckets;
        private final long total;

        /** Contiguous blocks of ids ({@code total > 0}), or the worker function with the default bucket count. */
        ShardPartitioner(int workers, long total) {
            this(workers, Buckets.DEFAULT, total);
        }

        ShardPartitioner(int workers, int buckets, long total) {
            this.workers = workers;
            this.buckets = buckets;
            this.total = total;
        }

        @Override
        public int numPartitions() {
            return workers;
        }

        @Override
        public int getPartition(Object key) {
            int id = (Integer) key;
            if (total == 0) return Buckets.worker(id, buckets, workers);
            int p = (int) (id * (long) workers / total); // block(p) <= id; the next block may start at id too
            while (p + 1 < workers && block(p + 1, total, workers) <= id) p++;
            return p;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ShardPartitioner s && s.workers == workers && s.buckets == buckets && s.total == total;
        }

        @Override
        public int hashCode() {
            return Long.hashCode((workers * 31L + buckets) * 31L + total);
        }
    }

    /** What a task needs to turn its partition into {@link Samples}; small and serializable. */
    record SampleSettings(String dataset, long seed, boolean augment, int imageSize, int evalResize, int numClasses, float[] mean,
                          float[] std, long imageMemoryBytes) implements Serializable {
        static SampleSettings of(Recipe r, int numClasses) {
            return new SampleSettings(r.spec.name(), r.seed, r.augment, r.imageSize, r.evalResize, numClasses, r.mean, r.std,
                    (long) (r.config.getDouble("image_memory_mb") * (1L << 20)));
        }

        /** Partition {@code partition} of {@code data} as samples, augmented when {@code train} and the recipe says so. */
        Samples samples(Iterator<Object> part, int partition, String cacheKey, boolean train) {
            Datasets.Spec s = Datasets.spec(dataset);
            if (s.augmentation() != Datasets.Augmentation.IMAGENET) {
                ImageDataset shard = (ImageDataset) part.next();
                return new BatchAssembler(shard, mean, std, train && augment, seed);
            }
            LocalShard.budget(imageMemoryBytes);
            LocalShard shard = LocalShards.local((LocalShard) part.next(), cacheKey, partition);
            return new JpegSamples(dataset + "[" + partition + "]", shard, new ImageTransforms(imageSize, evalResize, ImageTransforms.MIN_SCALE,
                    ImageTransforms.MAX_SCALE, ImageTransforms.MIN_RATIO, ImageTransforms.MAX_RATIO, mean, std), train && augment, seed);
        }
    }

    @Override
    public void close() {
        shards.unpersist(false);
        if (broadcast != null) broadcast.destroy();
        // The driver's own shards (local mode); an executor's files go with the executor (its temporary blocks).
        LocalShards.drop(cacheKey);
    }
}
