package org.addernet.spark;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.addernet.data.DataFormatException;
import org.addernet.data.ImageFolder;
import org.addernet.engine.Rng;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
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
 * {@code addernet prepare}: packs an ImageFolder tree ({@code train/<class>/*}, {@code val/<class>/*}) into
 * shuffled Parquet shards for fast sequential reads from HDFS, S3 or local disk, the other input form of the
 * {@code imagenet} dataset. Output folder:
 * <ul>
 *   <li>{@code train/}, {@code val/}: Parquet part files with columns {@code id int} (the image's ImageFolder
 *   number, so training on either form gives the same run), {@code label int}, {@code path string} (the original
 *   file) and {@code image binary} (the file's bytes, untouched), rows in a seeded random order;</li>
 *   <li>{@code classes.txt}: the class folder names, one per line, line k = class index k;</li>
 *   <li>{@value #MARKER}: counts, seed and skipped files; written last, so its presence means a complete
 *   output (the jobs detect the Parquet form by it).</li>
 * </ul>
 * Every image is decoded once on the way: an unreadable file is reported by path and skipped up to
 * {@code max_bad_images} (default 0: the job fails, and the split's partial output is removed).
 */
public final class PrepareJob {
    public static final String MARKER = "prepared.json";
    static final String CLASSES = "classes.txt";

    public record Result(String out, List<String> classes, long train, long val, List<String> rejected) {}

    private PrepareJob() {}

    public static StructType schema() {
        return DataTypes.createStructType(List.of(
                DataTypes.createStructField("id", DataTypes.IntegerType, false),
                DataTypes.createStructField("label", DataTypes.IntegerType, false),
                DataTypes.createStructField("path", DataTypes.StringType, false),
                DataTypes.createStructField("image", DataTypes.BinaryType, false)));
    }

    /**
     * @param files Parquet files per split (0: about one per 128 MB of images, at least Spark's default parallelism)
     */
    public static Result run(SparkSession spark, String root, String out, int files, long seed, int maxBad, PrintStream log)
            throws IOException {
        long start = System.nanoTime();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hadoop = jsc.hadoopConfiguration();
        Path outDir = new Path(out);
        FileSystem fs = outDir.getFileSystem(hadoop);
        if (fs.exists(new Path(outDir, MARKER))) fs.delete(new Path(outDir, MARKER), false); // incomplete until rewritten
        List<String> classes = ImageFolder.classes(hadoop, ImageFolder.splitDir(root, "train"));
        long[] counts = new long[2];
        List<String> rejected = new ArrayList<>();
        Broadcast<SerializableConfiguration> conf = jsc.broadcast(new SerializableConfiguration(hadoop));
        try {
            String[] splits = {"train", "val"};
            for (int s = 0; s < 2; s++) {
                String split = splits[s];
                String splitDir = ImageFolder.splitDir(root, split);
                List<ImageFolder.Entry> entries = SparkData.list(jsc, conf, splitDir, classes);
                CollectionAccumulator<String> bad = jsc.sc().collectionAccumulator("unreadable " + split + " images");
                JavaRDD<ImageRecord> records = SparkData.read(jsc, conf, entries, bad);
                // Sized by the count (the bytes are unknown before reading): ImageNet's JPEGs average ~110 kB.
                int parts = files > 0 ? files : (int) Math.max(jsc.defaultParallelism(), entries.size() * 110_000L / (128L << 20));
                // A random key per image, then a hash partition and a sort by key inside each file: a uniform shuffle
                // without the sampling pass a range partitioner would need (it would read every image once more).
                JavaRDD<Row> rows = records.mapToPair(r -> new Tuple2<>(Rng.derive(seed, Rng.SHUFFLE, r.id()).nextLong(), r))
                        .repartitionAndSortWithinPartitions(new HashPartitioner(parts))
                        .map(t -> RowFactory.create(t._2().id(), t._2().label(), t._2().path(), t._2().bytes()));
                Path dst = new Path(outDir, split);
                jsc.setJobDescription(String.format(Locale.ROOT, "prepare: %d %s images -> %d Parquet files in %s", entries.size(), split, parts, dst));
                spark.createDataFrame(rows, schema()).write().mode(SaveMode.Overwrite).parquet(dst.toString());
                List<String> badHere = new ArrayList<>(new LinkedHashSet<>(bad.value()));
                badHere.sort(null);
                try {
                    ImageFolder.checkRejected(badHere, maxBad - rejected.size(), splitDir, log);
                } catch (DataFormatException e) {
                    fs.delete(dst, true);
                    throw e;
                }
                rejected.addAll(badHere);
                counts[s] = entries.size() - badHere.size();
                log.printf(Locale.ROOT, "prepare: %s: %d images in %d Parquet files%s%n", split, counts[s], parts,
                        badHere.isEmpty() ? "" : " (" + badHere.size() + " unreadable skipped)");
            }
        } finally {
            conf.destroy();
        }
        FsStore store = new FsStore(hadoop, out);
        store.writeText(CLASSES, String.join("\n", classes) + "\n");
        StringBuilder json = new StringBuilder("{");
        json.append("\"source\":").append(EvaluateJob.quote(root));
        json.append(",\"classes\":").append(classes.size());
        json.append(",\"train\":").append(counts[0]);
        json.append(",\"val\":").append(counts[1]);
        json.append(",\"seed\":").append(seed);
        json.append(",\"rejected\":[");
        for (int i = 0; i < rejected.size(); i++) json.append(i > 0 ? "," : "").append(EvaluateJob.quote(rejected.get(i)));
        json.append("]}\n");
        store.writeText(MARKER, json.toString());
        log.printf(Locale.ROOT, "prepare: wrote %s (%d classes, %d train, %d val images) in %.1f s%n", out, classes.size(), counts[0],
                counts[1], (System.nanoTime() - start) / 1e9);
        return new Result(out, classes, counts[0], counts[1], List.copyOf(rejected));
    }

    /** The class names of a prepared folder. */
    static List<String> readClasses(Configuration hadoop, String root) throws IOException {
        String text = readText(hadoop, new Path(root, CLASSES));
        List<String> classes = new ArrayList<>();
        for (String line : text.split("\n")) if (!line.isEmpty()) classes.add(line);
        if (classes.isEmpty()) throw new DataFormatException(new Path(root, CLASSES) + ": no class names");
        return classes;
    }

    /** The image count of a split of a prepared folder, from {@value #MARKER}. */
    static long readCount(Configuration hadoop, String root, String split) throws IOException {
        Path p = new Path(root, MARKER);
        Matcher m = Pattern.compile("\"" + split + "\":(\\d+)").matcher(readText(hadoop, p));
        if (!m.find()) throw new DataFormatException(p + ": no count for split '" + split + "'");
        return Long.parseLong(m.group(1));
    }

    private static String readText(Configuration hadoop, Path p) throws IOException {
        FileSystem fs = p.getFileSystem(hadoop);
        if (!fs.exists(p)) throw new DataFormatException(p + ": not found (is this the output folder of addernet prepare?)");
        try (InputStream in = fs.open(p)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
