package org.addernet.spark;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.addernet.data.Buckets;
import org.addernet.data.DataFormatException;
import org.addernet.data.ImageFolder;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.spark.HashPartitioner;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.SerializableConfiguration;
import scala.Tuple2;

/**
 * {@code addernet prepare}: packs an ImageFolder tree ({@code train/<class>/*}, {@code val/<class>/*}) into a bucketed
 * Parquet layout the jobs read without a shuffle, from HDFS, S3 or local disk; the other input form of the
 * {@code imagenet} dataset. Output folder:
 * <ul>
 *   <li>{@code train/bucket=<b>/part-*.parquet}, {@code val/...}: B buckets per split (B fixed here, {@code --buckets},
 *   default {@link Buckets#DEFAULT}); image {@code id} goes to bucket {@code id % B}, sorted by id. Columns
 *   {@code id int} (the image's ImageFolder number, so training on either form gives the same run), {@code label int},
 *   {@code path string} (the original file) and {@code image binary} (the file's bytes, untouched). Worker p of W
 *   reads the buckets {@code b % W == p} ({@link Buckets}), so any {@code W <= B} uses the same files;</li>
 *   <li>{@code classes.txt}: the class folder names, one per line, line k = class index k;</li>
 *   <li>{@value #MARKER} ({@link PreparedLayout}): B, the classes, per split and bucket the image count and the files
 *   with their sizes, and the skipped files; written last, so its presence means a complete output (the jobs detect
 *   the Parquet form by it and check the files against it instead of decoding every image again).</li>
 * </ul>
 * Every image is decoded once on the way: an unreadable file is reported by path and skipped up to
 * {@code max_bad_images} (default 0: the job fails, and the split's partial output is removed).
 */
public final class PrepareJob {
    public static final String MARKER = "prepared.json";
    static final String CLASSES = "classes.txt";
    /** Parquet row-group size of the bucket files (parquet-hadoop reads a whole row group into memory). */
    static final long ROW_GROUP_BYTES = 32L << 20;

    public record Result(String out, List<String> classes, long train, long val, List<String> rejected, int buckets) {}

    private PrepareJob() {}

    /** The columns of a bucket file ({@code bucket} itself is the folder name). */
    public static StructType schema() {
        return DataTypes.createStructType(List.of(
                DataTypes.createStructField("id", DataTypes.IntegerType, false),
                DataTypes.createStructField("label", DataTypes.IntegerType, false),
                DataTypes.createStructField("path", DataTypes.StringType, false),
                DataTypes.createStructField("image", DataTypes.BinaryType, false)));
    }

    /**
     * @param buckets B, the bucket count per split: the largest number of workers that can read the output (a
     *                bucket is the smallest unit a worker owns)
     */
    public static Result run(SparkSession spark, String root, String out, int buckets, int maxBad, PrintStream log) throws IOException {
        if (buckets < 1) throw new IllegalArgumentException("--buckets must be >= 1, got " + buckets);
        long start = System.nanoTime();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hadoop = jsc.hadoopConfiguration();
        Path outDir = new Path(out);
        FileSystem fs = outDir.getFileSystem(hadoop);
        if (fs.exists(new Path(outDir, MARKER))) fs.delete(new Path(outDir, MARKER), false); // incomplete until rewritten
        List<String> classes = ImageFolder.classes(hadoop, ImageFolder.splitDir(root, "train"));
        long[] counts = new long[2];
        List<String> rejected = new ArrayList<>();
        Map<String, PreparedLayout.Split> splits = new LinkedHashMap<>();
        Broadcast<SerializableConfiguration> conf = jsc.broadcast(new SerializableConfiguration(hadoop));
        StructType withBucket = schema().add(DataTypes.createStructField("bucket", DataTypes.IntegerType, false));
        try {
            String[] names = {"train", "val"};
            for (int s = 0; s < 2; s++) {
                String split = names[s];
                String splitDir = ImageFolder.splitDir(root, split);
                List<ImageFolder.Entry> entries = SparkData.list(jsc, conf, splitDir, classes);
                CollectionAccumulator<String> bad = jsc.sc().collectionAccumulator("unreadable " + split + " images");
                Path dst = new Path(outDir, split);
                List<String> badHere;
                try (StagingProgress progress = StagingProgress.start(jsc, "prepare " + split, entries.size(), 0, log)) {
                    JavaRDD<ImageRecord> records = SparkData.read(jsc, conf, entries, bad, progress);
                    // HashPartitioner on the id: partition id % B = the bucket, rows sorted by id inside it; partitionBy then
                    // writes each bucket as one file in its own folder.
                    JavaRDD<Row> rows = records.mapToPair(r -> new Tuple2<>(r.id(), r))
                            .repartitionAndSortWithinPartitions(new HashPartitioner(buckets))
                            .map(t -> RowFactory.create(t._2().id(), t._2().label(), t._2().path(), t._2().bytes(),
                                    Buckets.bucket(t._2().id(), buckets)));
                    jsc.setJobDescription(String.format(Locale.ROOT, "prepare: %d %s images -> %d buckets in %s", entries.size(), split,
                            buckets, dst));
                    // Row groups of at most ROW_GROUP_BYTES: a worker's reader holds one row group at a time while staging.
                    spark.createDataFrame(rows, withBucket).write().mode(SaveMode.Overwrite).option("parquet.block.size", ROW_GROUP_BYTES)
                            .partitionBy("bucket").parquet(dst.toString());
                    badHere = new ArrayList<>(new LinkedHashSet<>(bad.value()));
                }
                badHere.sort(null);
                try {
                    ImageFolder.checkRejected(badHere, maxBad - rejected.size(), splitDir, log);
                } catch (DataFormatException e) {
                    fs.delete(dst, true);
                    throw e;
                }
                rejected.addAll(badHere);
                PreparedLayout.Split layout = layout(fs, dst, entries, badHere, buckets);
                splits.put(split, layout);
                counts[s] = layout.images();
                log.printf(Locale.ROOT, "prepare: %s: %d images, %.1f MB in %d buckets%s%n", split, counts[s], layout.bytes() / 1e6, buckets,
                        badHere.isEmpty() ? "" : " (" + badHere.size() + " unreadable skipped)");
            }
        } finally {
            conf.destroy();
        }
        FsStore store = new FsStore(hadoop, out);
        store.writeText(CLASSES, String.join("\n", classes) + "\n");
        PreparedLayout marker = new PreparedLayout(PreparedLayout.FORMAT, PreparedLayout.VERSION, root, buckets, classes, splits, rejected);
        store.writeText(MARKER, marker.toJson());
        log.printf(Locale.ROOT, "prepare: wrote %s (%d classes, %d train, %d val images, %d buckets) in %.1f s%n", out, classes.size(), counts[0],
                counts[1], buckets, (System.nanoTime() - start) / 1e9);
        return new Result(out, classes, counts[0], counts[1], List.copyOf(rejected), buckets);
    }

    /** The written split as prepared.json records it: per bucket the image count (from the listing less the skipped files) and files. */
    static PreparedLayout.Split layout(FileSystem fs, Path dst, List<ImageFolder.Entry> entries, List<String> rejected, int buckets)
            throws IOException {
        Set<String> skipped = new HashSet<>();
        for (String r : rejected) skipped.add(r.substring(0, Math.max(0, r.indexOf(": "))));
        long[] images = new long[buckets];
        for (ImageFolder.Entry e : entries) if (!skipped.contains(e.path())) images[Buckets.bucket(e.id(), buckets)]++;
        List<List<PreparedLayout.FileEntry>> files = new ArrayList<>();
        for (int b = 0; b < buckets; b++) files.add(new ArrayList<>());
        String base = fs.makeQualified(dst).toString() + "/";
        long bytes = 0;
        RemoteIterator<LocatedFileStatus> it = fs.listFiles(dst, true);
        while (it.hasNext()) {
            LocatedFileStatus f = it.next();
            String name = f.getPath().getName(), folder = f.getPath().getParent().getName();
            if (!name.endsWith(".parquet") || !folder.startsWith("bucket=")) continue;
            int b = Integer.parseInt(folder.substring("bucket=".length()));
            files.get(b).add(new PreparedLayout.FileEntry(f.getPath().toString().substring(base.length()), f.getLen()));
            bytes += f.getLen();
        }
        List<PreparedLayout.Bucket> out = new ArrayList<>();
        long total = 0;
        for (int b = 0; b < buckets; b++) {
            if (images[b] > 0 && files.get(b).isEmpty()) throw new IllegalStateException(dst + ": bucket " + b + " of " + images[b] + " images has no file");
            files.get(b).sort(java.util.Comparator.comparing(PreparedLayout.FileEntry::name));
            out.add(new PreparedLayout.Bucket(b, images[b], files.get(b)));
            total += images[b];
        }
        return new PreparedLayout.Split(total, bytes, out);
    }

    /** The class names in {@code root/classes.txt} (a prepared folder's, or one next to a checkpoint), line k = class k. */
    static List<String> readClasses(Configuration hadoop, String root) throws IOException {
        Path p = new Path(root, CLASSES);
        FileSystem fs = p.getFileSystem(hadoop);
        if (!fs.exists(p)) throw new DataFormatException(p + ": not found (is this the output folder of addernet prepare?)");
        String text;
        try (java.io.InputStream in = fs.open(p)) {
            text = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
        List<String> classes = new ArrayList<>();
        for (String line : text.split("\n")) if (!line.isEmpty()) classes.add(line);
        if (classes.isEmpty()) throw new DataFormatException(p + ": no class names");
        return classes;
    }
}
