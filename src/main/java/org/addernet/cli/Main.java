package org.addernet.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.addernet.spark.EvaluateJob;
import org.addernet.spark.FsStore;
import org.addernet.spark.LoadedCheckpoint;
import org.addernet.spark.PredictJob;
import org.addernet.spark.PrepareJob;
import org.addernet.spark.SparkJob;
import org.addernet.train.Checkpoints;
import org.addernet.train.Config;
import org.addernet.train.Recipe;
import org.addernet.train.RunFiles;
import org.addernet.train.SingleProcess;
import org.addernet.train.Trainer;
import org.apache.spark.sql.SparkSession;

/**
 * {@code addernet <command> [options]}: the one entry point. It only parses arguments and wires the parts;
 * the work is in the train, spark and kernels packages.
 */
public final class Main {
    private Main() {}

    static final String USAGE = """
            usage: addernet <command> [options]
              train --config FILE --out DIR [--master URL | --single-process] [--resume | --resume-from CKPT | --overwrite]
                    [key=value ...]
                  Trains a model as a Spark job (default master local[*], or spark-submit's); DIR (local path,
                  hdfs:// or s3a://) receives checkpoints/ckpt-e<E>-s<S>.ckpt (the newest keep_checkpoints), metrics.jsonl,
                  metrics.csv, training-curves.png.
                  --master URL      Spark master, e.g. local[2] or spark://host:7077
                  --single-process  the engine-only trainer in this JVM, no Spark (emulate_workers=W mimics W workers)
                  --resume          continue from DIR's newest checkpoint that verifies (a folder without one starts
                                    from the beginning); keys that change the math must be the recorded ones
                  --resume-from CKPT  continue from the given checkpoint file
                  --overwrite       replace the run DIR holds (without it, or --resume, a DIR holding a run is an error)
              evaluate --checkpoint PATH [--config FILE] [--data-dir DIR] [--split test|train] [--out DIR]
                       [--master URL] [key=value ...]
                  Evaluates a checkpoint (file or run folder; local, hdfs:// or s3a://) as a Spark job: loss, top-1,
                  top-5, per-class accuracy, confusion matrix (up to 100 classes). The recipe is the one recorded in
                  the checkpoint, with --config and key=value on top; spark.*, workers, threads, train_limit and
                  test_limit are not taken over (default: the whole split). Writes evaluation.json, per_class.csv,
                  confusion.csv to DIR (default: evaluation/ next to the checkpoint, evaluation-train/ for --split train).
              predict --checkpoint PATH --out DIR [--format parquet|csv] [--config FILE] [--data-dir DIR]
                      [--split test|train] [--master URL] [key=value ...]
                  Batch inference over a stored split into DIR (overwritten): one row per sample with id (index in the
                  split), label, path (image datasets), top5_classes and top5_probs (softmax, descending); CSV
                  flattens them to class1..class5, prob1..prob5. Part files are sorted by id.
              predict --checkpoint PATH --input PATH --out DIR [--format parquet|csv] [--max-bad-images K] [key=value ...]
                  Inference on new data: a folder of images at any depth (JPEG, PNG, ...), one image, a Parquet table
                  with an image-bytes column ('image' or its only binary column; 'id', 'path' kept if present), or a
                  dataset file (CIFAR .bin batch, idx3-ubyte images). Rows: id,
                  path, top5_classes, top5_probs (and top5_names from classes.txt next to the checkpoint or in data_dir).
                  The checkpoint's normalization and eval transform; unreadable images listed and skipped up to K.
              prepare --input ROOT --out DIR [--buckets B] [--max-bad-images K] [--master URL] [spark.key=value ...]
                  Packs an ImageFolder tree (ROOT/train/<class>/*.JPEG, ROOT/val/<class>/*.JPEG; local, hdfs://, s3a://)
                  into B Parquet buckets per split, DIR/train/bucket=<b>/ (image id in bucket id % B; id, label, path,
                  image bytes), with DIR/classes.txt and DIR/prepared.json; the jobs read it without a shuffle, any
                  number of workers W <= B (default B 1024). Every image is decoded once, unreadable ones are reported
                  and skipped up to K (default 0: fail). Train with dataset=imagenet data_dir=DIR.
              import --from FILE --model M [--variant adder|cnn] [--classes N] [--dataset D] [--mean M,M,M --std S,S,S] --out CKPT
                  Reads a PyTorch state_dict (zip or legacy torch.save, .safetensors; never runs code from it), checks every
                  tensor against the model (strips DataParallel's "module."), writes our checkpoint (weights, BN buffers) with
                  the normalization the model expects (default: CIFAR the official code's, else the dataset's).
              export --checkpoint CKPT --to FILE.pt|FILE.safetensors [--format zip|legacy|safetensors]
                  Writes the weights and BN buffers under the official names (torch.load(f, weights_only=True) reads .pt);
                  .pt is the zip torch.save of PyTorch >= 1.6 unless --format legacy (the older pickle format).
              bench [--threads N] [--kernels auto|vector|scalar] [--reps R]
                  Times adder2d and conv2d kernels on the ResNet-20 and LeNet shapes; one JSON object per line.
                  --shape n,c,h,w,o --op adder_input_grad --count N: only that op, N runs, for perf stat (scripts/bench-count).
              bench-spark [--master URL] [--workers W] [--reps R] [--models M,M,...] [--sync sharded,driver] [--wire fp32|bf16] [--breakdown] | [--params N,N,...]
                  Per-step Spark overhead of training steps (LeNet-5-BN, ResNet-20/18/50 on tiny inputs) with sync=driver
                  and sync=sharded: step, compute, overhead (step - compute) and bytes the driver receives per step.
                  --params: the protocol alone for models of N parameters (job launch, weight broadcast, gradient sum).
              summary --model M [--input CxHxW] [--classes K]
                  Per layer: output shape, parameters, additions and multiplications of one image's forward pass, adder
                  network and CNN twin side by side; totals (conv/fc only, as the AdderNet paper, and all layers);
                  energy at 45 nm (FP32 add 0.9 pJ, multiply 3.7 pJ).
              bench-step [--model resnet18] [--variant adder|cnn] [--batch 32] [--size 224] [--threads 2] [--steps 3]
                         [--classes K] [--kernels auto|vector|scalar] [--profile] [--mark-steps]
                  Times training steps on random data (images/s) and reports the peak heap next to its arithmetic;
                  --profile: per-layer kernel times and % of a peak measured in the same JVM, and the non-kernel time;
                  --mark-steps: each step's begin/end on stderr (for scripts/jit-timeline).
              bench-eval [--model resnet20] [--variant adder|cnn] [--batch 1,64] [--threads 2] [--seconds 3] [--model-kind eval|train] [--profile] [--trace]
                  Eval-mode inference images/s (what evaluate/predict tasks compute) and the heap after a full GC;
                  scripts/bench-eval adds PyTorch's CNN twin; --model-kind train: a training model's forwards, to compare;
                  --profile: the per-layer table of one forward; --trace: per parallel call of a forward, its wall span,
                  each side's CPU work, the wake-up, the caller's wait and the serial gap before it.
              bench-pipeline --root DIR [--threads N] [--images M] [--size 224]
                  Input pipeline images/s on an ImageFolder tree: read, decode, decode + train/eval transforms.
              make-synthetic-imagenet DIR [CLASSES [TRAIN_PER_CLASS [VAL_PER_CLASS [SEED]]]]
                  Writes a synthetic ImageFolder tree (varied JPEG sizes, some grayscale and CMYK) for tests and benchmarks.
              make-synthetic-cifar DIR [TRAIN [TEST]]
                  Writes a synthetic dataset in the CIFAR-10 binary format (for benchmarks where CIFAR cannot be downloaded).
              keys
                  Lists every config key with its default and meaning.
            """;

    public static void main(String[] args) {
        System.exit(runReporting(args, System.err));
    }

    /**
     * Runs a command and turns any failure into one line on {@code err} ("addernet: <message>") and an exit code: 2
     * for bad arguments, input or configuration, 1 for anything else. The stack trace follows only with
     * {@code ADDERNET_DEBUG=1} in the environment (or {@code -Daddernet.debug=true}).
     */
    static int runReporting(String[] args, java.io.PrintStream err) {
        try {
            return run(args);
        } catch (Throwable e) {
            boolean usage = e instanceof IllegalArgumentException && String.valueOf(e.getMessage()).contains("usage:");
            String m = describe(e);
            err.println("addernet: " + (usage ? m : m.lines().findFirst().orElse(m)));
            if (debug()) err.print(org.apache.commons.lang3.exception.ExceptionUtils.getStackTrace(e)); // ADDERNET_DEBUG=1 only
            return e instanceof IllegalArgumentException || e instanceof IllegalStateException
                    || e instanceof java.io.IOException || e instanceof java.io.UncheckedIOException
                    || e instanceof org.addernet.data.DataFormatException ? 2 : 1;
        }
    }

    static boolean debug() {
        return "1".equals(System.getenv("ADDERNET_DEBUG")) || Boolean.getBoolean("addernet.debug");
    }

    /** The message of a failure, from the innermost cause that has one if the outer one says nothing. */
    static String describe(Throwable e) {
        Throwable t = e;
        while ((t.getMessage() == null || t.getMessage().isBlank()
                || (t.getCause() != null && t.getMessage().equals(t.getCause().toString()))) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof OutOfMemoryError) return "out of memory (" + t.getMessage() + "): give the JVM more heap (-Xmx) or use a smaller batch_size";
        String m = t.getMessage();
        if (m == null || m.isBlank()) return t.getClass().getName();
        return t instanceof java.nio.file.FileSystemException ? RunFiles.oneLine(t) : m;
    }

    static int run(String[] args) throws Exception {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help")) {
            System.out.print(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        switch (args[0]) {
            case "train" -> train(rest);
            case "evaluate" -> evaluate(rest);
            case "predict" -> predict(rest);
            case "prepare" -> prepare(rest);
            case "import" -> InteropCommands.importModel(rest, System.out);
            case "export" -> InteropCommands.exportModel(rest, System.out);
            case "bench" -> Bench.main(rest);
            case "bench-spark" -> org.addernet.spark.SparkBench.main(rest);
            case "bench-pipeline" -> PipelineBench.run(rest, System.out);
            case "bench-step" -> StepBench.run(rest, System.out);
            case "bench-eval" -> EvalBench.run(rest, System.out);
            case "summary" -> Summary.run(rest, System.out);
            case "make-synthetic-imagenet" -> org.addernet.data.SyntheticImageNet.run(rest);
            case "make-synthetic-cifar" -> {
                if (rest.length < 1 || rest.length > 3) throw new IllegalArgumentException("make-synthetic-cifar DIR [TRAIN [TEST]]");
                int train = rest.length > 1 ? Integer.parseInt(rest[1]) : 50_000, test = rest.length > 2 ? Integer.parseInt(rest[2]) : 10_000;
                org.addernet.data.SyntheticCifar.write(Path.of(rest[0]), train, test, 1);
                System.out.println("wrote " + train + " training and " + test + " test images in CIFAR-10 format to " + rest[0]);
            }
            case "keys" -> {
                for (Config.Key k : Config.KEYS) {
                    System.out.printf("%-18s %-10s %s%n", k.name(), k.defaultValue() == null ? "(required)" : k.defaultValue(), k.doc());
                }
            }
            default -> throw new IllegalArgumentException("unknown command '" + args[0] + "'\n" + USAGE);
        }
        return 0;
    }

    static void train(String[] args) throws Exception {
        String config = null, out = null, master = null, resumeFrom = null;
        boolean resume = false, single = false, overwrite = false;
        List<String> overrides = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--config" -> config = value(args, ++i, a);
                case "--out" -> out = value(args, ++i, a);
                case "--master" -> master = value(args, ++i, a);
                case "--single-process" -> single = true;
                case "--resume" -> resume = true;
                case "--resume-from" -> resumeFrom = value(args, ++i, a);
                case "--overwrite" -> overwrite = true;
                default -> {
                    if (a.startsWith("--") || !a.contains("=")) throw new IllegalArgumentException("unknown train option '" + a + "'\n" + USAGE);
                    overrides.add(a);
                }
            }
        }
        if (out == null) throw new IllegalArgumentException("train needs --out DIR\n" + USAGE);
        if (single && master != null) throw new IllegalArgumentException("--single-process and --master exclude each other");
        if (resume && resumeFrom != null) throw new IllegalArgumentException("--resume and --resume-from exclude each other");
        Path configFile = config == null ? null : Path.of(config);
        Config cfg = Config.load(configFile, overrides);
        Recipe recipe = new Recipe(cfg);
        System.out.println("config: " + cfg.redacted());
        // The output folder first: unwritable, a file, or holding another run fails now, not after an epoch.
        // Local paths get the plain-disk writer either way; hdfs:// and s3a:// work in both modes.
        RunFiles files = new FsStore(LoadedCheckpoint.bootstrapHadoopConf(configFile, overrides), out);
        Checkpoints.prepareRunFolder(files, resume || resumeFrom != null, overwrite, System.out);
        Trainer.EpochMetrics m;
        if (single) {
            try (SingleProcess run = new SingleProcess(recipe, files, System.out)) {
                resume(run.trainer(), resume, resumeFrom);
                m = run.trainer().run();
            }
        } else {
            try (SparkSession spark = SparkSession.builder().config(SparkJob.sparkConf(cfg, master)).getOrCreate();
                 SparkJob job = new SparkJob(recipe, spark, out, System.out)) {
                resume(job.trainer(), resume, resumeFrom);
                m = job.trainer().run();
            }
        }
        if (m != null) System.out.println("final: " + m.toJson());
    }

    private static void resume(Trainer t, boolean resume, String from) throws java.io.IOException {
        if (resume) t.resume();
        else if (from != null) t.resumeFrom(from);
    }

    /** Options shared by {@code evaluate} and {@code predict}. */
    private static final class JobArgs {
        String checkpoint, config, out, master, split = "test", format = "parquet", input;
        final List<String> overrides = new ArrayList<>();

        JobArgs(String command, String[] args, boolean withFormat) {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--checkpoint" -> checkpoint = value(args, ++i, a);
                    case "--config" -> config = value(args, ++i, a);
                    case "--data-dir" -> overrides.add("data_dir=" + value(args, ++i, a));
                    case "--split" -> split = value(args, ++i, a);
                    case "--out" -> out = value(args, ++i, a);
                    case "--master" -> master = value(args, ++i, a);
                    default -> {
                        if (withFormat && a.equals("--format")) {
                            format = value(args, ++i, a);
                        } else if (withFormat && a.equals("--input")) {
                            input = value(args, ++i, a);
                        } else if (withFormat && a.equals("--max-bad-images")) {
                            overrides.add("max_bad_images=" + value(args, ++i, a));
                        } else {
                            if (a.startsWith("--") || !a.contains("=")) throw new IllegalArgumentException("unknown " + command + " option '" + a + "'\n" + USAGE);
                            overrides.add(a);
                        }
                    }
                }
            }
            if (checkpoint == null) throw new IllegalArgumentException(command + " needs --checkpoint PATH\n" + USAGE);
            if (!split.equals("test") && !split.equals("train")) throw new IllegalArgumentException("--split must be test or train, got '" + split + "'");
            if (!format.equals("parquet") && !format.equals("csv")) throw new IllegalArgumentException("--format must be parquet or csv, got '" + format + "'");
        }

        LoadedCheckpoint load() throws java.io.IOException {
            Path file = config == null ? null : Path.of(config);
            return LoadedCheckpoint.read(checkpoint, file, overrides, LoadedCheckpoint.bootstrapHadoopConf(file, overrides));
        }
    }

    static void evaluate(String[] args) throws Exception {
        JobArgs a = new JobArgs("evaluate", args, false);
        LoadedCheckpoint ckpt = a.load();
        for (String k : ckpt.ignoredKeys) System.out.println("note: checkpoint key config." + k + " is unknown to this build; ignored");
        try (SparkSession spark = SparkSession.builder().config(SparkJob.sparkConf(ckpt.recipe.config, a.master)).getOrCreate()) {
            EvaluateJob.run(spark, ckpt, a.split, a.out, System.out);
        }
    }

    static void predict(String[] args) throws Exception {
        JobArgs a = new JobArgs("predict", args, true);
        if (a.out == null) throw new IllegalArgumentException("predict needs --out DIR\n" + USAGE);
        LoadedCheckpoint ckpt = a.load();
        for (String k : ckpt.ignoredKeys) System.out.println("note: checkpoint key config." + k + " is unknown to this build; ignored");
        try (SparkSession spark = SparkSession.builder().config(SparkJob.sparkConf(ckpt.recipe.config, a.master)).getOrCreate()) {
            if (a.input != null) org.addernet.spark.PredictInput.run(spark, ckpt, a.input, a.out, a.format, System.out);
            else PredictJob.run(spark, ckpt, a.split, a.out, a.format, System.out);
        }
    }

    static void prepare(String[] args) throws Exception {
        String input = null, out = null, master = null;
        int buckets = org.addernet.data.Buckets.DEFAULT, maxBad = 0;
        java.util.Map<String, String> spark = new java.util.TreeMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--input" -> input = value(args, ++i, a);
                case "--out" -> out = value(args, ++i, a);
                case "--master" -> master = value(args, ++i, a);
                case "--buckets" -> buckets = intValue(args, ++i, a);
                case "--max-bad-images" -> maxBad = intValue(args, ++i, a);
                default -> {
                    int eq = a.indexOf('=');
                    if (!a.startsWith(Config.SPARK_PREFIX) || eq < 0) throw new IllegalArgumentException("unknown prepare option '" + a + "'\n" + USAGE);
                    spark.put(a.substring(0, eq), a.substring(eq + 1));
                }
            }
        }
        if (input == null || out == null) throw new IllegalArgumentException("prepare needs --input ROOT and --out DIR\n" + USAGE);
        if (buckets < 1 || maxBad < 0) throw new IllegalArgumentException("--buckets must be >= 1 and --max-bad-images >= 0");
        try (SparkSession s = SparkSession.builder().config(SparkJob.sparkConf("addernet prepare " + input, spark, master)).getOrCreate()) {
            PrepareJob.run(s, input, out, buckets, maxBad, System.out);
        }
    }

    private static int intValue(String[] args, int i, String opt) {
        try {
            return Integer.parseInt(value(args, i, opt));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(opt + " needs an integer, got '" + args[i] + "'");
        }
    }

    private static String value(String[] args, int i, String opt) {
        if (i >= args.length) throw new IllegalArgumentException(opt + " needs a value");
        return args[i];
    }
}
