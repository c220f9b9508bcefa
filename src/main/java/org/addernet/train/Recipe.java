package org.addernet.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import org.addernet.data.BatchAssembler;
import org.addernet.data.Datasets;
import org.addernet.data.EncodedImages;
import org.addernet.data.ImageDataset;
import org.addernet.data.ImageFolder;
import org.addernet.data.ImageTransforms;
import org.addernet.data.JpegSamples;
import org.addernet.data.Sampler;
import org.addernet.data.Samples;
import org.addernet.engine.Engine;
import org.addernet.engine.ThreadPool;
import org.addernet.model.Model;
import org.addernet.model.Models;
import org.apache.hadoop.conf.Configuration;

/**
 * A {@link Config} turned into typed, validated training settings and the objects they imply (datasets, model,
 * optimizer, sampler, schedule). Shared by the single-process trainer and the Spark job, so both read a recipe
 * the same way.
 */
public final class Recipe {
    public final Config config;
    public final Datasets.Spec spec;
    public final String arch;
    public final boolean adder;
    public final long seed;
    public final boolean augment;
    /** The dataset is compressed images decoded in the tasks (imagenet): sizes of the crops and of the eval resize. */
    public final boolean images;
    public final int imageSize, evalResize, maxBadImages;
    public final int epochs, batchSize, workers, logEvery, evalBatchSize, checkpointEverySteps, maxSteps;
    /** Samples per forward/backward inside a worker's share (0 = the whole share), see {@link ShardStep}. */
    public final int microBatch;
    /** {@code lr_scaling = linear}: the initial rate is {@code lr * batch_size / LR_REFERENCE_BATCH}. */
    public final boolean linearLrScaling;
    /** The reference batch of the linear scaling rule (Goyal et al. 2017; the paper's recipes use 256). */
    public static final int LR_REFERENCE_BATCH = 256;
    public final boolean perWorkerScaling, checkpoint;
    /**
     * {@code wire = bf16}: gradients and weights cross as bfloat16 ({@link Bf16}); the workers compute with the
     * bf16-rounded master weights and their gradients are rounded before they are summed (docs/DESIGN-NOTES.md).
     */
    public final boolean bf16Wire;
    /** Per-channel input normalization, {@code (x - mean) / std} in [0, 1] pixel units: the mean/std keys or the dataset's. */
    public final float[] mean, std;

    public Recipe(Config cfg) {
        this.config = cfg;
        try {
            this.spec = Datasets.spec(cfg.get("dataset"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("config key 'dataset': " + e.getMessage());
        }
        this.arch = cfg.get("model");
        if (!Models.ARCHS.contains(arch)) throw new IllegalArgumentException("config key 'model': unknown model '" + arch + "'; known: " + Models.ARCHS);
        String variant = cfg.get("variant");
        if (!variant.equals("adder") && !variant.equals("cnn")) {
            throw new IllegalArgumentException("config key 'variant' must be adder or cnn, got '" + variant + "'");
        }
        this.adder = variant.equals("adder");
        try {
            this.seed = Long.parseLong(cfg.get("seed"));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("config key 'seed' must be an integer, got '" + cfg.get("seed") + "'");
        }
        this.images = spec.augmentation() == Datasets.Augmentation.IMAGENET;
        this.augment = switch (cfg.get("augment")) {
            case "default" -> spec.augmentation() != Datasets.Augmentation.NONE;
            case "cifar" -> {
                if (images) throw new IllegalArgumentException("config key 'augment': cifar augmentation does not apply to dataset " + spec.name()
                        + " (use default or none)");
                yield true;
            }
            case "none" -> false;
            default -> throw new IllegalArgumentException("config key 'augment' must be default, none or cifar, got '" + cfg.get("augment") + "'");
        };
        this.perWorkerScaling = switch (cfg.get("adaptive_scaling")) {
            case "global" -> false;
            case "per_worker" -> true;
            default -> throw new IllegalArgumentException("config key 'adaptive_scaling' must be global or per_worker, got '"
                    + cfg.get("adaptive_scaling") + "'");
        };
        this.imageSize = positive(cfg, "image_size");
        this.evalResize = positive(cfg, "eval_resize");
        if (images && imageSize < 64) throw new IllegalArgumentException("config key 'image_size' must be >= 64, got " + imageSize);
        if (images && evalResize < imageSize) {
            throw new IllegalArgumentException("config key 'eval_resize' (" + evalResize + ") must be >= image_size (" + imageSize + ")");
        }
        if (cfg.getInt("buckets") < 0) throw new IllegalArgumentException("config key 'buckets' must be >= 0");
        if (!(cfg.getDouble("image_memory_mb") >= 0)) throw new IllegalArgumentException("config key 'image_memory_mb' must be >= 0");
        cfg.getBoolean("verify_images");
        int channels = images ? 3 : spec.channels();
        this.mean = perChannel(cfg, "mean", spec.mean(), channels);
        this.std = perChannel(cfg, "std", spec.std(), channels);
        for (float s : std) if (!(s > 0)) throw new IllegalArgumentException("config key 'std' must be > 0 per channel, got '" + cfg.get("std") + "'");
        this.maxBadImages = cfg.getInt("max_bad_images");
        if (maxBadImages < 0) throw new IllegalArgumentException("config key 'max_bad_images' must be >= 0");
        String format = cfg.get("data_format");
        if (!format.equals("auto") && !format.equals("imagefolder") && !format.equals("parquet")) {
            throw new IllegalArgumentException("config key 'data_format' must be auto, imagefolder or parquet, got '" + format + "'");
        }
        this.epochs = positive(cfg, "epochs");
        this.batchSize = positive(cfg, "batch_size");
        this.evalBatchSize = positive(cfg, "eval_batch_size");
        this.logEvery = positive(cfg, "log_every");
        this.workers = cfg.getInt("workers");
        if (workers < 0) throw new IllegalArgumentException("config key 'workers' must be >= 0");
        this.checkpointEverySteps = cfg.getInt("checkpoint_every_steps");
        if (checkpointEverySteps < 0) throw new IllegalArgumentException("config key 'checkpoint_every_steps' must be >= 0");
        this.checkpoint = cfg.getBoolean("checkpoint");
        this.maxSteps = cfg.getInt("max_steps");
        if (maxSteps < 0) throw new IllegalArgumentException("config key 'max_steps' must be >= 0");
        this.microBatch = cfg.getInt("micro_batch");
        // Every model normalizes its logits with BN, which needs 2 samples per micro-batch; from 3 on, the
        // near-equal split of ShardStep never leaves a micro-batch of 1 out of a share of 2 or more.
        if (microBatch < 0 || microBatch == 1 || microBatch == 2) {
            throw new IllegalArgumentException("config key 'micro_batch' must be 0 (off) or >= 3 (BN on the logits needs"
                    + " 2 samples in every micro-batch), got " + microBatch);
        }
        this.linearLrScaling = switch (cfg.get("lr_scaling")) {
            case "none" -> false;
            case "linear" -> true;
            default -> throw new IllegalArgumentException("config key 'lr_scaling' must be none or linear, got '" + cfg.get("lr_scaling") + "'");
        };
        this.bf16Wire = switch (cfg.get("wire")) {
            case "fp32" -> false;
            case "bf16" -> true;
            default -> throw new IllegalArgumentException("config key 'wire' must be fp32 or bf16, got '" + cfg.get("wire") + "'");
        };
        // Validated here so that a bad value fails before any data is read.
        validateRanges(cfg);
        new LrSchedule(cfg.get("lr_schedule"), lr0(), epochs, 1, cfg.getInts("lr_milestones"),
                cfg.getDouble("lr_gamma"), cfg.getInt("warmup_epochs"));
        sgd(1);
    }

    /** A comma-separated list of {@code channels} finite numbers, or {@code dflt} for an empty value. */
    private static float[] perChannel(Config cfg, String key, float[] dflt, int channels) {
        String s = cfg.get(key).trim();
        if (s.isEmpty()) return dflt.clone();
        String[] parts = s.split(",");
        if (parts.length != channels) {
            throw new IllegalArgumentException("config key '" + key + "' needs " + channels + " comma-separated values (one per channel), got '" + s + "'");
        }
        float[] r = new float[channels];
        for (int i = 0; i < channels; i++) {
            try {
                r[i] = Float.parseFloat(parts[i].trim());
            } catch (NumberFormatException e) {
                r[i] = Float.NaN;
            }
            if (!Float.isFinite(r[i])) throw new IllegalArgumentException("config key '" + key + "' must be numbers, got '" + s + "'");
        }
        return r;
    }

    /** {@code mean}/{@code std} as a config value, e.g. {@code 0.4914,0.4822,0.4465} (float's shortest decimal). */
    public static String join(float[] v) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < v.length; i++) b.append(i > 0 ? "," : "").append(v[i]);
        return b.toString();
    }

    private static final java.util.regex.Pattern SIZE = java.util.regex.Pattern.compile("[0-9]+\\s*([kmgtp]i?b?|b)?",
            java.util.regex.Pattern.CASE_INSENSITIVE);

    /** Range checks of the numeric and enumerated keys, each error naming its key and the value given. */
    private static void validateRanges(Config cfg) {
        double lr = cfg.getDouble("lr");
        if (lr <= 0) throw new IllegalArgumentException("config key 'lr' must be > 0, got " + cfg.get("lr"));
        if (cfg.getDouble("momentum") < 0) throw new IllegalArgumentException("config key 'momentum' must be >= 0, got " + cfg.get("momentum"));
        if (cfg.getDouble("weight_decay") < 0) {
            throw new IllegalArgumentException("config key 'weight_decay' must be >= 0, got " + cfg.get("weight_decay"));
        }
        if (cfg.getDouble("eta") <= 0) throw new IllegalArgumentException("config key 'eta' must be > 0, got " + cfg.get("eta"));
        if (cfg.getDouble("lr_gamma") <= 0) throw new IllegalArgumentException("config key 'lr_gamma' must be > 0, got " + cfg.get("lr_gamma"));
        if (cfg.getBoolean("nesterov") && cfg.getDouble("momentum") == 0) {
            throw new IllegalArgumentException("config key 'nesterov': Nesterov momentum needs momentum > 0");
        }
        int warm = cfg.getInt("warmup_epochs"), epochs = cfg.getInt("epochs");
        if (warm < 0 || warm > epochs) {
            throw new IllegalArgumentException("config key 'warmup_epochs' must be in [0, epochs=" + epochs + "], got " + warm);
        }
        cfg.getBoolean("step_timing");
        String sync = cfg.get("sync");
        if (!sync.equals("auto") && !sync.equals("driver") && !sync.equals("sharded")) {
            throw new IllegalArgumentException("config key 'sync' must be auto, driver or sharded, got '" + sync + "'");
        }
        for (int m : cfg.getInts("lr_milestones")) {
            if (m < 1) throw new IllegalArgumentException("config key 'lr_milestones' must hold epochs >= 1, got '" + cfg.get("lr_milestones") + "'");
        }
        for (String k : new String[] {"train_limit", "test_limit", "threads", "slot_wait_seconds"}) {
            if (cfg.getInt(k) < 0) throw new IllegalArgumentException("config key '" + k + "' must be >= 0, got " + cfg.get(k));
        }
        for (String k : new String[] {"keep_checkpoints", "emulate_workers", "tree_depth", "steps_per_job"}) {
            if (cfg.getInt(k) < 1) throw new IllegalArgumentException("config key '" + k + "' must be >= 1, got " + cfg.get(k));
        }
        // Spark reports a malformed size deep in its startup without naming the key.
        for (Map.Entry<String, String> e : cfg.sparkSettings().entrySet()) {
            String k = e.getKey();
            if ((k.endsWith(".memory") || k.endsWith(".memoryOverhead") || k.endsWith("maxResultSize") || k.endsWith("buffer.max"))
                    && !SIZE.matcher(e.getValue()).matches()) {
                throw new IllegalArgumentException("config key '" + k + "' must be a size such as 512m or 4g, got '" + e.getValue() + "'");
            }
        }
    }

    private static int positive(Config cfg, String key) {
        int v = cfg.getInt(key);
        if (v < 1) throw new IllegalArgumentException("config key '" + key + "' must be >= 1, got " + v);
        return v;
    }

    /** The training (or test) split, cut to {@code train_limit}/{@code test_limit}. */
    public ImageDataset dataset(boolean train) throws IOException {
        ImageDataset d = Datasets.open(spec.name(), Path.of(config.get("data_dir")), train);
        int limit = config.getInt(train ? "train_limit" : "test_limit");
        if (limit < 0) throw new IllegalArgumentException("train_limit/test_limit must be >= 0");
        return limit == 0 || limit >= d.count() ? d : d.subset(0, limit);
    }

    /** Normalization of the dataset, and the recipe's augmentation for training data. */
    public BatchAssembler assembler(ImageDataset data, boolean train) {
        return new BatchAssembler(data, mean, std, train && augment, seed);
    }

    /** The model for the dataset's own class count, with its initial weights (a function of the seed). */
    public Model model(Engine engine) {
        return model(engine, spec.numClasses());
    }

    /** The model for {@code classes} classes (an image folder's), with its initial weights. */
    public Model model(Engine engine, int classes) {
        Model m = Models.create(arch, adder, classes, inputSize(), engine, seed);
        int[] in = m.inputShape();
        int[] want = inputShape();
        if (in[0] != want[0] || in[1] != want[1] || in[2] != want[2]) {
            throw new IllegalArgumentException("model " + m.name() + " takes " + in[0] + "x" + in[1] + "x" + in[2]
                    + " inputs but dataset " + spec.name() + " gives " + want[0] + "x" + want[1] + "x" + want[2]
                    + (images ? " (image_size)" : ""));
        }
        return m;
    }

    /** Side of the model's square input: image_size for decoded images, else the dataset's own. */
    public int inputSize() {
        return images ? imageSize : spec.height();
    }

    /** (C, H, W) of what the model sees. */
    public int[] inputShape() {
        return images ? new int[] {3, imageSize, imageSize} : new int[] {spec.channels(), spec.height(), spec.width()};
    }

    public Sgd sgd(int size) {
        return new Sgd(size, config.getDouble("momentum"), config.getDouble("weight_decay"), config.getBoolean("nesterov"),
                config.getDouble("eta"));
    }

    /** The sampler over shards of these sizes: the last partial batch kept for one worker, dropped for several. */
    public Sampler sampler(int[] shardSizes) {
        return new Sampler(shardSizes, batchSize, seed, shardSizes.length > 1);
    }

    /** One process's view of the data: the training set in W shards, the test set, and an image folder's classes (else null). */
    public record LocalData(List<Samples> trainShards, Samples test, List<String> classes) {
        public int[] shardSizes() {
            return trainShards.stream().mapToInt(Samples::count).toArray();
        }

        public int numClasses() {
            return trainShards.get(0).numClasses();
        }
    }

    /**
     * The data for the single-process trainer: in-memory datasets cut into strided shards; image folders read,
     * validated and held compressed in this JVM (the Spark job does this in tasks, and alone reads Parquet shards).
     */
    public LocalData localData(int workers, ThreadPool pool, PrintStream log) throws IOException {
        if (!images) {
            ImageDataset train = dataset(true), test = dataset(false);
            List<Samples> shards = new ArrayList<>();
            for (int w = 0; w < workers; w++) shards.add(assembler(workers == 1 ? train : train.strided(w, workers), true));
            return new LocalData(shards, assembler(test, false), null);
        }
        Configuration conf = new Configuration();
        String root = config.get("data_dir");
        org.apache.hadoop.fs.Path marker = new org.apache.hadoop.fs.Path(root, "prepared.json");
        if (config.get("data_format").equals("parquet") || (config.get("data_format").equals("auto") && marker.getFileSystem(conf).exists(marker))) {
            throw new IllegalArgumentException("the single-process trainer reads ImageFolder trees; prepared buckets (" + root + ") need the Spark job");
        }
        int buckets = config.getInt("buckets") > 0 ? config.getInt("buckets") : org.addernet.data.Buckets.DEFAULT;
        String trainDir = ImageFolder.splitDir(root, "train"), valDir = ImageFolder.splitDir(root, "val");
        List<String> classes = ImageFolder.classes(conf, trainDir);
        List<Samples> shards = new ArrayList<>();
        for (List<EncodedImages> chunks : ImageFolder.readShards(conf, ImageFolder.limit(ImageFolder.list(conf, trainDir, classes),
                config.getInt("train_limit")), classes.size(), workers, buckets, maxBadImages, IMAGE_CHUNK_BYTES, trainDir, pool, log)) {
            shards.add(imageSamples(chunks, true));
        }
        List<EncodedImages> test = ImageFolder.readShards(conf, ImageFolder.limit(ImageFolder.list(conf, valDir, classes),
                config.getInt("test_limit")), classes.size(), 1, buckets, maxBadImages, IMAGE_CHUNK_BYTES, valDir, pool, log).get(0);
        return new LocalData(shards, imageSamples(test, false), classes);
    }

    /** Compressed images per chunk held in one array. */
    public static final int IMAGE_CHUNK_BYTES = 64 << 20;

    /** Compressed images as samples: the recipe's transforms (training augmentation when {@code train}), normalization. */
    public Samples imageSamples(List<EncodedImages> chunks, boolean train) {
        return new JpegSamples(spec.name() + (train ? " train" : " val"), chunks, transforms(), train && augment, seed);
    }

    /** The image transforms of an image dataset: crop sizes and the recipe's normalization. */
    public ImageTransforms transforms() {
        return new ImageTransforms(imageSize, evalResize, ImageTransforms.MIN_SCALE, ImageTransforms.MAX_SCALE, ImageTransforms.MIN_RATIO,
                ImageTransforms.MAX_RATIO, mean, std);
    }

    public LrSchedule schedule(int stepsPerEpoch) {
        return new LrSchedule(config.get("lr_schedule"), lr0(), epochs, stepsPerEpoch,
                config.getInts("lr_milestones"), config.getDouble("lr_gamma"), config.getInt("warmup_epochs"));
    }

    /** The schedule's initial rate: {@code lr}, times {@code batch_size / 256} under {@code lr_scaling = linear}. */
    public double lr0() {
        double lr = config.getDouble("lr");
        return linearLrScaling ? lr * batchSize / LR_REFERENCE_BATCH : lr;
    }

    /** One log line: the effective initial rate and how it came about, the warm-up, the micro-batching. */
    public String stepSummary() {
        String lr = linearLrScaling
                ? String.format(Locale.ROOT, "lr0 %s = lr %s x batch %d / %d (lr_scaling=linear)", shortNumber(lr0()), config.get("lr"), batchSize, LR_REFERENCE_BATCH)
                : "lr0 " + shortNumber(lr0());
        int warm = config.getInt("warmup_epochs");
        return lr + ", " + config.get("lr_schedule") + (warm > 0 ? ", warm-up " + warm + " epoch" + (warm > 1 ? "s" : "") : ", no warm-up")
                + (microBatch > 0 ? "; micro-batches of at most " + microBatch + " samples per worker share" : "");
    }

    /** Six significant digits without trailing zeros: 0.4, not 0.400000 or 0.4000000000000001. */
    private static String shortNumber(double v) {
        return new java.math.BigDecimal(String.format(Locale.ROOT, "%.6g", v)).stripTrailingZeros().toPlainString();
    }

    /** {@code threads} of the recipe, with 0 meaning {@code dflt}. */
    public int threads(int dflt) {
        int t = config.getInt("threads");
        if (t < 0) throw new IllegalArgumentException("config key 'threads' must be >= 0");
        return t > 0 ? t : dflt;
    }
}
