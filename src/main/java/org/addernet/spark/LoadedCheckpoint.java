package org.addernet.spark;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.addernet.data.ImageDataset;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.model.Checkpoint;
import org.addernet.model.Model;
import org.addernet.train.Config;
import org.addernet.train.Recipe;
import org.addernet.train.Checkpoints;
import org.addernet.train.FiniteCheck;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import scala.Tuple2;

/**
 * A trained model for the {@code evaluate} and {@code predict} jobs: a checkpoint read through the Hadoop
 * FileSystem API (local path, {@code hdfs://}, {@code s3a://}), the recipe it was trained with (its
 * {@code config.*} meta keys) with the user's {@code --config} file and {@code key=value} overrides on top, and
 * its weights ready to broadcast.
 *
 * <p>Not every recorded key is taken over: where the training ran ({@code spark.*}, {@code workers},
 * {@code threads}) says nothing about where the evaluation runs, and {@code train_limit}/{@code test_limit}
 * cut the data for quick training epochs, so they start from their defaults again (the whole split, this
 * machine) unless given anew.
 */
public final class LoadedCheckpoint {
    /** Recipe keys of the training run that do not carry over (see the class comment). */
    static final Set<String> NOT_INHERITED = Set.of("workers", "threads", "train_limit", "test_limit");


    /** The checkpoint file actually read. */
    public final String path;
    public final Map<String, String> meta;
    public final Recipe recipe;
    /** {@code <arch>_<variant>}, as in the checkpoint. */
    public final String modelName;
    /** Recorded keys this build does not know (from another version); ignored, reported to the user. */
    public final List<String> ignoredKeys;
    /** The model's class count (an image folder's may be anything). */
    public final int classes;
    final Weights weights;

    private LoadedCheckpoint(String path, Map<String, String> meta, Recipe recipe, String modelName, List<String> ignoredKeys,
                             int classes, Weights weights) {
        this.path = path;
        this.classes = classes;
        this.meta = meta;
        this.recipe = recipe;
        this.modelName = modelName;
        this.ignoredKeys = ignoredKeys;
        this.weights = weights;
    }

    /**
     * Reads {@code checkpoint} (a file, or a run folder: its newest checkpoint that verifies) and rebuilds its
     * recipe: recorded keys, then {@code configFile} (may be null), then {@code overrides}; unknown keys in the
     * latter two are errors. The model named by the recipe must be the checkpoint's, tensor for tensor.
     */
    public static LoadedCheckpoint read(String checkpoint, java.nio.file.Path configFile, List<String> overrides,
                                        Configuration hadoop) throws IOException {
        Path p = new Path(checkpoint);
        FileSystem fs = p.getFileSystem(hadoop);
        String where;
        Checkpoint ckpt;
        if (fs.exists(p) && fs.getFileStatus(p).isDirectory()) {
            // A run folder: its newest checkpoint that verifies (Trainer's --resume rule).
            Checkpoints.Found f = Checkpoints.newestValid(new FsStore(hadoop, fs.makeQualified(p).toString()), System.out);
            if (f == null) throw new IllegalArgumentException("no checkpoint in " + p + " (expected " + Checkpoints.FOLDER + "/ckpt-*.ckpt)");
            where = f.where();
            ckpt = f.checkpoint();
        } else {
            if (!fs.exists(p)) throw new IllegalArgumentException("checkpoint not found: " + p);
            // Qualified (file:/..., hdfs://...), so reports and the default output folder do not depend on the cwd.
            where = fs.makeQualified(p).toString();
            try (InputStream in = fs.open(p)) {
                ckpt = Checkpoint.read(in, where);
            }
        }
        Map<String, String> meta = ckpt.meta();

        Set<String> known = new HashSet<>();
        for (Config.Key k : Config.KEYS) known.add(k.name());
        Set<String> fromFile = configFile == null ? Set.of() : fileKeys(configFile);
        List<String> merged = new ArrayList<>();
        List<String> ignored = new ArrayList<>();
        for (Map.Entry<String, String> e : meta.entrySet()) {
            if (!e.getKey().startsWith("config.")) continue;
            String key = e.getKey().substring("config.".length());
            if (key.startsWith(Config.SPARK_PREFIX) || NOT_INHERITED.contains(key)) continue;
            if (!known.contains(key)) {
                ignored.add(key);
                continue;
            }
            // The file's value wins over the recorded one: pass a recorded key only where the file is silent.
            if (!fromFile.contains(key)) merged.add(key + "=" + e.getValue());
        }
        merged.addAll(overrides);
        Config cfg;
        try {
            cfg = Config.load(configFile, merged);
        } catch (IllegalArgumentException e) {
            if (meta.containsKey("config.model")) throw e;
            throw new IllegalArgumentException(where + " records no training recipe (config.* keys); give one with --config FILE: "
                    + e.getMessage(), e);
        }
        Recipe recipe = new Recipe(cfg);
        String expected = recipe.arch + (recipe.adder ? "_adder" : "_cnn");
        String stored = meta.get("model");
        if (!expected.equals(stored)) {
            throw new IllegalArgumentException(where + " holds model '" + stored + "' but the recipe asks for '" + expected
                    + "' (model=" + recipe.arch + ", variant=" + cfg.get("variant") + ")");
        }
        // Restoring into a model built from the recipe checks every tensor's name and shape (e.g. the class count
        // of an overridden dataset) on the driver, before any data is read or task is started.
        int classes = meta.containsKey("classes") ? Integer.parseInt(meta.get("classes")) : recipe.spec.numClasses();
        try (Engine engine = Engine.create(1, cfg.get("kernels"))) {
            Model model = recipe.model(engine, classes);
            ckpt.restoreInto(model, where);
            Params params = model.params();
            // A diverged run's weights give meaningless accuracies ("top-5 100%" from NaN logits): refuse them.
            String poisoned = FiniteCheck.firstNonFinite(params);
            if (poisoned != null) throw new IOException(where + " holds non-finite values (first in " + poisoned + "): a diverged run; it cannot be evaluated");
            Weights w = Weights.snapshot(params.data, params.buffers);
            return new LoadedCheckpoint(where, meta, recipe, expected, List.copyOf(ignored), classes, w);
        }
    }

    private static Set<String> fileKeys(java.nio.file.Path file) {
        Properties p = new Properties();
        if (!Files.isRegularFile(file)) return Set.of(); // Config.load reports the missing file
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException | IllegalArgumentException e) {
            return Set.of(); // likewise
        }
        return p.stringPropertyNames();
    }

    /**
     * The Hadoop settings to read a checkpoint before Spark starts (the recipe, and with it the SparkConf, comes
     * from the checkpoint): {@code spark.hadoop.*} keys from spark-submit ({@code --conf}, seen as system
     * properties), the config file and the command line, as SparkContext would apply them, on top of the
     * classpath's {@code core-site.xml}.
     */
    public static Configuration bootstrapHadoopConf(java.nio.file.Path configFile, List<String> overrides) {
        SparkConf conf = new SparkConf();
        if (configFile != null && Files.isRegularFile(configFile)) {
            Properties p = new Properties();
            try (Reader r = Files.newBufferedReader(configFile, StandardCharsets.UTF_8)) {
                p.load(r);
                for (String k : p.stringPropertyNames()) if (k.startsWith("spark.hadoop.")) conf.set(k, p.getProperty(k).trim());
            } catch (IOException | IllegalArgumentException e) {
                // Config.load reports an unreadable file with its own message.
            }
        }
        for (String o : overrides) {
            int eq = o.indexOf('=');
            if (eq > 0 && o.startsWith("spark.hadoop.")) conf.set(o.substring(0, eq).trim(), o.substring(eq + 1).trim());
        }
        Configuration hadoop = new Configuration();
        for (Tuple2<String, String> t : conf.getAllWithPrefix("spark.hadoop.")) hadoop.set(t._1(), t._2());
        return hadoop;
    }

    /** The {@code test} or {@code train} split of the recipe's dataset (cut to its limits, if given). */
    public ImageDataset dataset(String split) throws IOException {
        return recipe.dataset(isTrain(split));
    }

    /**
     * The split cached in {@code workers} shards (contiguous blocks of ids if {@code contiguous}, see
     * {@link SparkData#of}); an image dataset must have the model's class count.
     */
    SparkData data(SparkSession spark, String split, int workers, boolean contiguous, PrintStream log) throws IOException {
        List<String> names = null;
        if (recipe.images) {
            names = SparkData.imageClasses(spark.sparkContext().hadoopConfiguration(), recipe);
            if (names.size() != classes) {
                throw new IllegalArgumentException(recipe.config.get("data_dir") + " has " + names.size() + " classes, the model of "
                        + path + " was trained on " + classes);
            }
        }
        return SparkData.of(spark, recipe, isTrain(split), names, workers, contiguous, log);
    }

    static boolean isTrain(String split) {
        return switch (split) {
            case "train" -> true;
            case "test" -> false;
            default -> throw new IllegalArgumentException("--split must be test or train, got '" + split + "'");
        };
    }

    /**
     * What executors build their model from; {@code taskCpus} engine threads unless the recipe says otherwise. Eval-only
     * ({@link ModelSpec#forEval}): a loaded checkpoint is evaluated or predicted with, never trained here.
     */
    ModelSpec spec(int taskCpus) {
        return ModelSpec.of(recipe, classes, recipe.threads(taskCpus)).forEval();
    }

    /** Weight position recorded in the checkpoint, for summaries: {@code optimizer_steps}. */
    public long optimizerSteps() {
        return Long.parseLong(meta.getOrDefault("optimizer_steps", "0"));
    }
}
