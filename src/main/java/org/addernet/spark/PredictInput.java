package org.addernet.spark;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import org.addernet.data.BatchAssembler;
import org.addernet.data.CifarReader;
import org.addernet.data.DataFormatException;
import org.addernet.data.IdxReader;
import org.addernet.data.ImageDataset;
import org.addernet.data.Samples;
import org.addernet.data.EncodedImages;
import org.addernet.data.ImageFolder;
import org.addernet.data.ImageTransforms;
import org.addernet.data.JpegSamples;
import org.addernet.train.Recipe;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.DataFrameWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.util.SerializableConfiguration;
import scala.Tuple2;

/**
 * {@code addernet predict --input PATH}: inference on new, unlabeled data, as a Spark job. {@code PATH} (local,
 * {@code hdfs://}, {@code s3a://}) is a folder of images at any depth (JPEG, PNG and the other formats ImageIO
 * reads; ids are the files' ranks in path order), a single image, or a Parquet table (a file or a folder of part
 * files) with an image-bytes column ({@code image}, else its only binary column; ids from an integer {@code id}
 * column, else the row's rank; {@code path} column if present), or a dataset file of a format we read (a CIFAR
 * binary batch, an {@code idx3-ubyte} image file; local; paths {@code FILE#id}). Each image goes through the model's eval transform
 * with the checkpoint's normalization: the recipe's resize and center crop for image recipes, for the CIFAR ResNets
 * a resize of the shorter side to 32 and a 32x32 center crop (the identity on CIFAR-sized images).
 *
 * <p>Files are read and fully decoded once in tasks, unreadable ones listed by path and skipped up to
 * {@code max_bad_images} as training does; the rest are cached compressed in contiguous id blocks, so the part files
 * come out sorted by id. Rows: {@code id, path, top5_classes, top5_probs} and, when class names are known
 * ({@code classes.txt} next to the checkpoint or in the recipe's data_dir), {@code top5_names}; CSV flattens them to
 * {@code class1.., prob1.., name1..}.
 */
public final class PredictInput {
    private PredictInput() {}

    /** The output schema: Parquet with arrays, CSV ({@code flat}) with one column per rank. */
    public static StructType schema(boolean flat, int k, boolean names) {
        List<StructField> f = new ArrayList<>();
        f.add(DataTypes.createStructField("id", DataTypes.IntegerType, false));
        f.add(DataTypes.createStructField("path", DataTypes.StringType, false));
        if (flat) {
            for (int r = 1; r <= k; r++) f.add(DataTypes.createStructField("class" + r, DataTypes.IntegerType, false));
            for (int r = 1; r <= k; r++) f.add(DataTypes.createStructField("prob" + r, DataTypes.FloatType, false));
            if (names) for (int r = 1; r <= k; r++) f.add(DataTypes.createStructField("name" + r, DataTypes.StringType, false));
        } else {
            f.add(DataTypes.createStructField("top5_classes", DataTypes.createArrayType(DataTypes.IntegerType, false), false));
            f.add(DataTypes.createStructField("top5_probs", DataTypes.createArrayType(DataTypes.FloatType, false), false));
            if (names) f.add(DataTypes.createStructField("top5_names", DataTypes.createArrayType(DataTypes.StringType, false), false));
        }
        return DataTypes.createStructType(f);
    }

    public static PredictJob.Result run(SparkSession spark, LoadedCheckpoint ckpt, String input, String out, String format, PrintStream log)
            throws IOException {
        boolean csv = switch (format) {
            case "parquet" -> false;
            case "csv" -> true;
            default -> throw new IllegalArgumentException("--format must be parquet or csv, got '" + format + "'");
        };
        long start = System.nanoTime();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hadoop = jsc.hadoopConfiguration();
        PredictJob.checkOutput(hadoop, out, ckpt.path);
        Recipe recipe = ckpt.recipe;
        int[] shape = recipe.inputShape();
        ImageDataset file = datasetFile(input);
        if (file != null && (file.channels() != shape[0] || file.height() != shape[1] || file.width() != shape[2])) {
            throw new IllegalArgumentException("--input " + input + " holds " + file.channels() + "x" + file.height() + "x" + file.width()
                    + " images, " + ckpt.modelName + " takes " + shape[0] + "x" + shape[1] + "x" + shape[2]);
        }
        if (file == null && shape[0] != 3) {
            throw new IllegalArgumentException("predict --input decodes RGB images; " + ckpt.modelName + " on " + recipe.spec.name()
                    + " takes " + shape[0] + "-channel inputs (predict over its stored splits instead)");
        }
        List<String> names = classNames(hadoop, ckpt);
        int k = Math.min(PredictJob.TOP, ckpt.classes);
        int workers = recipe.workers > 0 ? recipe.workers : jsc.defaultParallelism();
        int taskCpus = Integer.parseInt(jsc.getConf().get("spark.task.cpus", "1"));
        CollectionAccumulator<String> bad = jsc.sc().collectionAccumulator("unreadable input images");
        Broadcast<SerializableConfiguration> conf = jsc.broadcast(new SerializableConfiguration(hadoop));
        JavaRDD<Object> shards = null;
        SparkData inMemory = null;
        Broadcast<Weights> weights = null;
        LongAccumulator written = jsc.sc().longAccumulator("predicted rows");
        try {
            long n;
            if (file != null) { // decoded pixels in memory, as the stored splits
                inMemory = SparkData.inMemory(jsc, file, Math.min(workers, file.count()), true, "input");
                shards = inMemory.shards;
                n = file.count();
            } else {
                Input in = records(spark, jsc, conf, input, bad);
                if (in.total == 0) throw new IllegalArgumentException("--input " + input + " holds no images");
                shards = SparkData.shards(in.records, new SparkData.ShardPartitioner(workers, in.total), 1, "input images")
                        .persist(StorageLevel.MEMORY_AND_DISK_SER());
                jsc.setJobDescription("reading and checking " + in.total + " input images of " + input);
                n = shards.map(o -> (long) ((EncodedImages) o).count()).fold(0L, Long::sum);
            }
            List<String> rejected = new ArrayList<>(new LinkedHashSet<>(bad.value())); // a retried task reports again
            rejected.sort(null);
            ImageFolder.checkRejected(rejected, recipe.maxBadImages, input, log);
            int side = shape[1];
            Settings s = new Settings(ckpt.spec(taskCpus), recipe.images ? recipe.imageSize : side, recipe.images ? recipe.evalResize : side,
                    recipe.mean, recipe.std, recipe.evalBatchSize, k, csv, names == null ? null : names.toArray(new String[0]), file == null, input);
            weights = jsc.broadcast(ckpt.weights);
            jsc.setJobDescription(String.format(Locale.ROOT, "predict %s on %d images of %s in %d partitions -> %s", ckpt.modelName, n, input,
                    workers, out));
            JavaRDD<Row> rows = shards.mapPartitions(new Task(s, weights, written), true);
            DataFrameWriter<Row> writer = spark.createDataFrame(rows, schema(csv, k, names != null)).write().mode(SaveMode.Overwrite);
            if (csv) writer.option("header", "true").csv(out);
            else writer.parquet(out);
            if (written.value() != n) throw new IllegalStateException("wrote " + written.value() + " predictions for " + n + " images");
            log.printf(Locale.ROOT, "predict: %s (%s) on %s: wrote %d rows (%s, sorted by id)%s to %s (%.1f s)%n", ckpt.modelName, ckpt.path,
                    input, n, csv ? "csv" : "parquet", rejected.isEmpty() ? "" : ", " + rejected.size() + " unreadable skipped", out,
                    (System.nanoTime() - start) / 1e9);
            return new PredictJob.Result(n, out, csv ? "csv" : "parquet", workers);
        } finally {
            if (weights != null) weights.destroy();
            if (inMemory != null) inMemory.close();
            else if (shards != null) shards.unpersist(false);
            conf.destroy();
        }
    }

    /**
     * A dataset file of a format we read, on the driver's local file system: a CIFAR binary batch ({@code *.bin}) or an
     * MNIST-style {@code idx3-ubyte} image file (optionally gzipped); null for anything else.
     */
    static ImageDataset datasetFile(String input) {
        String name = new Path(input).getName();
        boolean cifar = name.endsWith(".bin"), idx = name.contains("idx3-ubyte");
        if (!cifar && !idx) return null;
        java.nio.file.Path local = java.nio.file.Path.of(input.startsWith("file:") ? new Path(input).toUri().getPath() : input);
        if (!java.nio.file.Files.isRegularFile(local)) {
            throw new IllegalArgumentException("--input " + input + ": dataset files are read from the local file system; no such file");
        }
        return cifar ? CifarReader.readFile(local) : IdxReader.readImagesFile(local);
    }

    /** The input's images as records (label 0: there are none) and the id range. */
    private record Input(JavaRDD<ImageRecord> records, long total) {}

    private static Input records(SparkSession spark, JavaSparkContext jsc, Broadcast<SerializableConfiguration> conf, String input,
                                 CollectionAccumulator<String> bad) throws IOException {
        Path p = new Path(input);
        FileSystem fs = p.getFileSystem(jsc.hadoopConfiguration());
        if (!fs.exists(p)) throw new IllegalArgumentException("--input " + input + " does not exist");
        List<String> images = new ArrayList<>();
        boolean parquet = false;
        FileStatus st = fs.getFileStatus(p);
        if (st.isDirectory()) {
            RemoteIterator<LocatedFileStatus> it = fs.listFiles(p, true);
            while (it.hasNext()) {
                LocatedFileStatus f = it.next();
                String name = f.getPath().getName();
                if (name.startsWith(".") || name.startsWith("_")) continue;
                if (name.endsWith(".parquet")) parquet = true;
                else if (ImageFolder.isImage(name)) images.add(f.getPath().toString());
            }
            if (parquet && !images.isEmpty()) throw new IllegalArgumentException("--input " + input + " mixes Parquet files and images");
        } else if (p.getName().endsWith(".parquet")) {
            parquet = true;
        } else if (ImageFolder.isImage(p.getName())) {
            images.add(fs.makeQualified(p).toString());
        } else {
            throw new IllegalArgumentException("--input " + input + " is neither a folder, an image (" + ImageFolder.EXTENSIONS
                    + ") nor a .parquet table");
        }
        if (parquet) return parquet(spark, input, bad);
        images.sort(null);
        List<ImageFolder.Entry> entries = new ArrayList<>(images.size());
        for (int i = 0; i < images.size(); i++) entries.add(new ImageFolder.Entry(i, 0, images.get(i)));
        return new Input(SparkData.read(jsc, conf, entries, bad), entries.size());
    }

    private static Input parquet(SparkSession spark, String input, CollectionAccumulator<String> bad) {
        Dataset<Row> df = spark.read().parquet(input);
        StructType t = df.schema();
        String image = null;
        List<String> binary = new ArrayList<>();
        for (StructField f : t.fields()) if (f.dataType() instanceof BinaryType) binary.add(f.name());
        if (binary.contains("image")) image = "image";
        else if (binary.size() == 1) image = binary.get(0);
        if (image == null) {
            throw new IllegalArgumentException("--input " + input + ": no image-bytes column (a binary column named 'image', or the only binary one); columns: "
                    + List.of(t.fieldNames()));
        }
        DataType idType = has(t, "id") ? t.apply("id").dataType() : null;
        boolean ids = idType != null && (idType.equals(DataTypes.IntegerType) || idType.equals(DataTypes.LongType));
        boolean paths = has(t, "path") && t.apply("path").dataType().equals(DataTypes.StringType);
        String img = image;
        JavaRDD<Tuple2<Long, Row>> rows;
        if (ids) {
            rows = df.javaRDD().map(r -> new Tuple2<>(((Number) r.getAs("id")).longValue(), r));
        } else {
            rows = df.javaRDD().zipWithIndex().map(x -> new Tuple2<>(x._2(), x._1()));
        }
        long total;
        if (ids) {
            Row max = df.agg(org.apache.spark.sql.functions.max("id")).first();
            total = max.isNullAt(0) ? 0 : ((Number) max.get(0)).longValue() + 1;
        } else {
            total = df.count();
        }
        if (total > Integer.MAX_VALUE) throw new IllegalArgumentException("--input " + input + ": ids beyond 2^31");
        String where = input;
        JavaRDD<ImageRecord> records = rows.flatMap(x -> {
            long id = x._1();
            Row r = x._2();
            String path = paths && r.getAs("path") != null ? (String) r.getAs("path") : where + "#" + id;
            if (id < 0) {
                bad.add(path + ": negative id " + id);
                return List.<ImageRecord>of().iterator();
            }
            byte[] bytes = r.getAs(img);
            try {
                if (bytes == null) throw new DataFormatException("no image bytes");
                JpegSamples.validate(bytes, path);
            } catch (DataFormatException e) {
                bad.add(path + ": " + e.getMessage());
                return List.<ImageRecord>of().iterator();
            }
            return List.of(new ImageRecord((int) id, 0, path, bytes)).iterator();
        });
        return new Input(records, total);
    }

    private static boolean has(StructType t, String name) {
        for (String n : t.fieldNames()) if (n.equals(name)) return true;
        return false;
    }

    /** {@code classes.txt} next to the checkpoint, else in the recipe's data_dir; null if neither has one with a name per class. */
    static List<String> classNames(Configuration hadoop, LoadedCheckpoint ckpt) throws IOException {
        List<String> roots = new ArrayList<>();
        roots.add(new Path(ckpt.path).getParent().toString());
        roots.add(ckpt.recipe.config.get("data_dir"));
        for (String root : roots) {
            Path f = new Path(root, PrepareJob.CLASSES);
            if (!f.getFileSystem(hadoop).exists(f)) continue;
            List<String> names = PrepareJob.readClasses(hadoop, root);
            if (names.size() != ckpt.classes) {
                throw new IllegalArgumentException(f + " names " + names.size() + " classes, the model has " + ckpt.classes);
            }
            return names;
        }
        return null;
    }

    /** What a task needs besides the weights; small and serializable. */
    record Settings(ModelSpec model, int size, int resize, float[] mean, float[] std, int batch, int k, boolean flat, String[] names,
                    boolean encoded, String input) implements Serializable {}

    /** A partition's images, as rows, one batch at a time as the writer consumes them. */
    static final class Task implements org.apache.spark.api.java.function.FlatMapFunction<Iterator<Object>, Row> {
        final Settings s;
        final Broadcast<Weights> weights;
        final LongAccumulator written;

        Task(Settings s, Broadcast<Weights> weights, LongAccumulator written) {
            this.s = s;
            this.weights = weights;
            this.written = written;
        }

        @Override
        public Iterator<Row> call(Iterator<Object> part) {
            Samples block;
            if (s.encoded()) {
                List<EncodedImages> chunks = new ArrayList<>();
                part.forEachRemaining(o -> chunks.add((EncodedImages) o));
                ImageTransforms t = new ImageTransforms(s.size(), s.resize(), ImageTransforms.MIN_SCALE, ImageTransforms.MAX_SCALE,
                        ImageTransforms.MIN_RATIO, ImageTransforms.MAX_RATIO, s.mean(), s.std());
                block = new JpegSamples("input", chunks, t, false, 0);
            } else {
                block = new BatchAssembler((ImageDataset) part.next(), s.mean(), s.std(), false, 0);
            }
            return PredictJob.batched(block, this::predict);
        }

        int predict(Samples block, int from, List<Row> rows) {
            int n = Math.min(s.batch(), block.count() - from), k = s.k();
            float[] logits = PredictJob.logits(block, from, n, s.model(), weights.value(), new int[n]);
            int classes = logits.length / n;
            int[] cls = new int[k];
            float[] prob = new float[k];
            for (int i = 0; i < n; i++) {
                PredictJob.topK(logits, i * classes, classes, cls, prob);
                String[] nm = null;
                if (s.names() != null) {
                    nm = new String[k];
                    for (int r = 0; r < k; r++) nm[r] = s.names()[cls[r]];
                }
                List<Object> v = new ArrayList<>();
                v.add(block.id(from + i));
                String src = block.source(from + i);
                v.add(src != null ? src : s.input() + "#" + block.id(from + i));
                if (s.flat()) {
                    for (int r = 0; r < k; r++) v.add(cls[r]);
                    for (int r = 0; r < k; r++) v.add(prob[r]);
                    if (nm != null) for (int r = 0; r < k; r++) v.add(nm[r]);
                } else {
                    v.add(cls.clone());
                    v.add(prob.clone());
                    if (nm != null) v.add(nm);
                }
                rows.add(RowFactory.create(v.toArray()));
            }
            written.add(n);
            return from + n;
        }
    }
}
