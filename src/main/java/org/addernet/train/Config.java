package org.addernet.train;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * A training recipe: a {@code .properties} file in {@code conf/} plus {@code key=value} overrides from the
 * command line. Every key is declared in {@link #KEYS} with its default and documentation (printed by
 * {@code addernet keys}); an unknown key is an error naming the key and where it came from, so a typo never
 * silently trains with a default. Keys starting with {@code spark.} are Spark settings, passed through to
 * SparkConf (Spark documents them).
 */
public final class Config {
    /** A known key: default value ({@code null} = required) and a one-line description. */
    public record Key(String name, String defaultValue, String doc) {}

    public static final List<Key> KEYS = List.of(
            new Key("model", null, "architecture: lenet5bn, resnet20, resnet32, resnet56 (28x28 / 32x32 inputs); resnet18, resnet34, resnet50 (image_size inputs)"),
            new Key("variant", "adder", "adder (AdderNet) or cnn (the same network with ordinary convolutions)"),
            new Key("dataset", null, "mnist, fashion-mnist, cifar10, cifar100, or imagenet (any ImageFolder tree or its prepared Parquet shards)"),
            new Key("data_dir", "data", "folder holding the dataset files (downloaded there if absent and the network allows); for imagenet the root holding train/ and val/ (local, hdfs://, s3a://)"),
            new Key("data_format", "auto", "imagenet: imagefolder (train/<class>/*.JPEG), parquet (the output of prepare) or auto (parquet when data_dir holds prepared.json)"),
            new Key("image_size", "224", "imagenet: side of the square crop the model sees (RandomResizedCrop for training, center crop for evaluation)"),
            new Key("eval_resize", "256", "imagenet: evaluation resizes the shorter side to this before the center crop"),
            new Key("max_bad_images", "0", "imagenet: unreadable (corrupt, truncated, not an image) files to skip, each reported by path, before the job fails"),
            new Key("buckets", "0", "imagenet, ImageFolder input: bucket count B of the worker function (id % B) % W (0 = 1024, prepare's default; prepared data keeps the B it was written with)"),
            new Key("verify_images", "false", "imagenet, prepared data: decode every image once more while staging (prepare already did; an unreadable one counts against max_bad_images)"),
            new Key("image_memory_mb", "0", "imagenet, Spark job: in-heap LRU of compressed images per executor JVM, in MiB, fractions allowed (0 = none: a step reads its images from the local shard file, the OS page cache keeps what fits)"),
            new Key("mean", "", "per-channel input mean in [0, 1] pixel units, comma-separated, e.g. 0.4914,0.4822,0.4465 (empty: the dataset's default); recorded in the checkpoint, used by evaluate/predict"),
            new Key("std", "", "per-channel input standard deviation, comma-separated, e.g. 0.2023,0.1994,0.2010 (empty: the dataset's default); recorded like mean"),
            new Key("epochs", "10", "number of epochs"),
            new Key("batch_size", "256", "global batch size B (the loss is a mean over B)"),
            new Key("lr", "0.1", "initial learning rate"),
            new Key("lr_schedule", "cosine", "cosine (per epoch), cosine_step (per step), step, constant"),
            new Key("lr_milestones", "", "epochs at which the step schedule multiplies the rate by lr_gamma, e.g. 150,225"),
            new Key("lr_gamma", "0.1", "factor of the step schedule"),
            new Key("warmup_epochs", "0", "linear warm-up over this many epochs (per step)"),
            new Key("lr_scaling", "none", "none, or linear: the initial rate becomes lr * batch_size / 256 (Goyal et al.'s linear scaling rule, reference batch 256), combined with warmup_epochs"),
            new Key("momentum", "0.9", "SGD momentum"),
            new Key("nesterov", "false", "Nesterov momentum"),
            new Key("weight_decay", "5e-4", "L2 weight decay, applied to every parameter as PyTorch does"),
            new Key("eta", "0.2", "adder adaptive learning-rate scale (the paper's eta)"),
            new Key("adaptive_scaling", "global", "global: scale each adder gradient of the whole batch (default); per_worker: scale each worker's share, then sum (the official code under DataParallel)"),
            new Key("augment", "default", "default (the dataset's usual: crop+flip for CIFAR, none for MNIST), none, cifar"),
            new Key("seed", "42", "seed of initialization, shuffling and augmentation"),
            new Key("threads", "0", "engine threads (0 = all available processors)"),
            new Key("kernels", "auto", "auto, vector (Java Vector API) or scalar"),
            new Key("micro_batch", "0", "run each worker's share in micro-batches of at most this many samples, gradients accumulated (BN statistics per micro-batch, as PyTorch's accumulation loop); 0 = the whole share at once; else >= 3"),
            new Key("emulate_workers", "1", "single process: split each global batch into this many shards as W data-parallel workers would (BN statistics per shard)"),
            new Key("eval_batch_size", "1000", "batch size of evaluation"),
            new Key("train_limit", "0", "use only the first N training samples (0 = all; imagenet: N spread evenly over the ids); for quick runs"),
            new Key("test_limit", "0", "evaluate on only the first N test samples (0 = all; imagenet: spread evenly)"),
            new Key("log_every", "50", "print a progress line every N steps"),
            new Key("step_timing", "false", "Spark job: every log_every steps also print where a step's time went (sync=driver: driver laps, Spark's task metrics, the task's phases; sync=sharded: per job A/B Spark's task metrics, the tasks' phases, remote bytes, decode/encode/store; one JSON line, docs/DESIGN-NOTES.md)"),
            new Key("checkpoint", "true", "write a checkpoint DIR/checkpoints/ckpt-e<E>-s<S>.ckpt after every epoch"),
            new Key("keep_checkpoints", "3", "keep the newest N checkpoints (>= 1); older ones are deleted once a newer one is complete"),
            new Key("max_steps", "0", "stop after this many steps in this invocation, with a checkpoint, to continue later with --resume (0 = run to the end)"),
            new Key("checkpoint_every_steps", "0", "Spark job: also checkpoint every N steps inside an epoch (0 = only at epoch ends)"),
            new Key("workers", "0", "Spark job: data-parallel workers W = partitions of the cached dataset (0 = Spark's default parallelism)"),
            new Key("tree_depth", "2", "Spark job: depth of the treeReduce that sums the workers' gradients"),
            new Key("steps_per_job", "64", "Spark job, local mode, sync=driver: run up to N steps in one Spark job whose tasks take the driver's steps one after another in this JVM (the same bits; 1 = one job per step, as on a cluster)"),
            new Key("sync", "auto", "Spark job: driver (the driver sums the gradients and broadcasts the weights), sharded (each executor owns a slice of the weights and momentum; the driver gets only per-layer norms) or auto (sharded when workers > 1 and the model has >= 1M parameters)"),
            new Key("wire", "fp32", "how gradients and weights cross between workers and owners: fp32 (exact, default) or bf16 (rounded to nearest even, half the bytes; master weights, momentum and sums stay fp32; workers compute with the bf16-rounded weights; the single process and sync=driver apply the same roundings)"),
            new Key("slot_wait_seconds", "120", "Spark job: when the cluster has fewer free task slots than workers, wait this long for them before failing (a step never runs in waves)"));

    /** Keys starting with this prefix are Spark settings, passed to SparkConf as they are. */
    public static final String SPARK_PREFIX = "spark.";

    private static final Map<String, Key> BY_NAME = new LinkedHashMap<>();

    static {
        for (Key k : KEYS) BY_NAME.put(k.name(), k);
    }

    private final Map<String, String> values;

    private Config(Map<String, String> values) {
        this.values = values;
    }

    /** Reads {@code file} (may be null) and applies the {@code key=value} overrides after it. */
    public static Config load(Path file, List<String> overrides) {
        Map<String, String> v = new TreeMap<>();
        if (file != null) {
            if (!Files.isRegularFile(file)) throw new IllegalArgumentException("config file not found: " + file);
            Properties p = new Properties();
            try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                p.load(r);
            } catch (IOException | IllegalArgumentException e) {
                throw new IllegalArgumentException("cannot read config file " + file + ": " + e.getMessage(), e);
            }
            for (String k : p.stringPropertyNames()) put(v, k, p.getProperty(k).trim(), "config file " + file);
        }
        for (String o : overrides) {
            int eq = o.indexOf('=');
            if (eq <= 0) throw new IllegalArgumentException("expected key=value, got '" + o + "'");
            put(v, o.substring(0, eq).trim(), o.substring(eq + 1).trim(), "command line");
        }
        for (Key k : KEYS) {
            if (!v.containsKey(k.name())) {
                if (k.defaultValue() == null) {
                    throw new IllegalArgumentException("missing required key '" + k.name() + "' (" + k.doc() + ")"
                            + (file != null ? " in " + file : ""));
                }
                v.put(k.name(), k.defaultValue());
            }
        }
        return new Config(v);
    }

    private static void put(Map<String, String> v, String key, String value, String source) {
        if (key.equals("image_cache")) {
            throw new IllegalArgumentException("config key 'image_cache' (in " + source + ") was removed: images are staged once into a file on each"
                    + " executor's local disk; bound their heap use with image_memory_mb");
        }
        if (!BY_NAME.containsKey(key) && !key.startsWith(SPARK_PREFIX)) {
            throw new IllegalArgumentException("unknown config key '" + key + "' in " + source + "; closest known keys: " + closest(key)
                    + " (`addernet keys` lists all " + KEYS.size() + ")");
        }
        v.put(key, value);
    }

    /** The five known keys nearest to {@code key} by edit distance (the whole list no longer fits one error line). */
    static List<String> closest(String key) {
        List<String> names = new java.util.ArrayList<>(BY_NAME.keySet());
        names.sort(java.util.Comparator.comparingInt((String n) -> editDistance(key, n)).thenComparing(n -> n));
        return names.subList(0, Math.min(5, names.size()));
    }

    /** Levenshtein distance: insertions, deletions and substitutions, each 1. */
    static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                cur[j] = Math.min(Math.min(cur[j - 1], prev[j]) + 1, prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** The {@code spark.*} settings of the recipe, for SparkConf. */
    public Map<String, String> sparkSettings() {
        Map<String, String> r = new TreeMap<>();
        for (Map.Entry<String, String> e : values.entrySet()) if (e.getKey().startsWith(SPARK_PREFIX)) r.put(e.getKey(), e.getValue());
        return r;
    }

    public String get(String key) {
        if (!BY_NAME.containsKey(key)) throw new IllegalArgumentException("unknown config key '" + key + "'");
        return values.get(key);
    }

    public int getInt(String key) {
        try {
            return Integer.parseInt(get(key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("config key '" + key + "' must be an integer, got '" + get(key) + "'");
        }
    }

    public double getDouble(String key) {
        try {
            double d = Double.parseDouble(get(key));
            if (!Double.isFinite(d)) throw new NumberFormatException();
            return d;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("config key '" + key + "' must be a finite number, got '" + get(key) + "'");
        }
    }

    public boolean getBoolean(String key) {
        String s = get(key);
        if (s.equals("true")) return true;
        if (s.equals("false")) return false;
        throw new IllegalArgumentException("config key '" + key + "' must be true or false, got '" + s + "'");
    }

    public int[] getInts(String key) {
        String s = get(key);
        if (s.isEmpty()) return new int[0];
        String[] parts = s.split(",");
        int[] r = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                r[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("config key '" + key + "' must be a comma-separated list of integers, got '" + s + "'");
            }
        }
        return r;
    }

    /** All resolved values, defaults included, in key order (what the run uses; may hold secrets). */
    public Map<String, String> asMap() {
        return new TreeMap<>(values);
    }

    /** What stands in for a secret value wherever a recipe is printed or stored. */
    public static final String REDACTED = "<redacted>";
    private static final java.util.regex.Pattern SECRET =
            java.util.regex.Pattern.compile("secret|password|passwd|token|credential|access[._-]?key|private[._-]?key");

    /** Whether a key's value is a secret (e.g. {@code spark.hadoop.fs.s3a.secret.key}): never printed nor stored. */
    public static boolean isSecret(String key) {
        return SECRET.matcher(key.toLowerCase(java.util.Locale.ROOT)).find();
    }

    /** {@link #asMap} with secret values replaced by {@link #REDACTED}: what logs, metrics and checkpoints get. */
    public Map<String, String> redacted() {
        Map<String, String> r = new TreeMap<>(values);
        for (Map.Entry<String, String> e : r.entrySet()) if (isSecret(e.getKey())) e.setValue(REDACTED);
        return r;
    }
}
