package org.addernet.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.addernet.spark.SparkJob;
import org.addernet.train.Config;
import org.addernet.train.Recipe;
import org.addernet.train.RunFiles;
import org.addernet.train.SingleProcess;
import org.addernet.train.Trainer;
import org.apache.spark.sql.SparkSession;

/**
 * {@code addernet <command> [options]}: the one entry point. It only parses arguments and wires the parts;
 * the work is in {@link Trainer} and {@link Bench}.
 */
public final class Main {
    private Main() {}

    static final String USAGE = """
            usage: addernet <command> [options]
              train --config FILE --out DIR [--master URL | --single-process] [--resume] [key=value ...]
                  Trains a model as a Spark job (default master local[*], or spark-submit's); DIR (local path,
                  hdfs:// or s3a://) receives checkpoint.ckpt, metrics.jsonl, metrics.csv, training-curves.png.
                  --master URL      Spark master, e.g. local[2] or spark://host:7077
                  --single-process  the engine-only trainer in this JVM, no Spark (emulate_workers=W mimics W workers)
                  --resume          continue from DIR/checkpoint.ckpt
              bench [--threads N] [--kernels auto|vector|scalar] [--reps R]
                  Times adder2d and conv2d kernels on the ResNet-20 and LeNet shapes; one JSON object per line.
              keys
                  Lists every config key with its default and meaning.
            """;

    public static void main(String[] args) {
        try {
            System.exit(run(args));
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("addernet: " + e.getMessage());
            System.exit(2);
        } catch (Exception e) {
            System.err.println("addernet: " + e);
            e.printStackTrace();
            System.exit(1);
        }
    }

    static int run(String[] args) throws Exception {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help")) {
            System.out.print(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        switch (args[0]) {
            case "train" -> train(rest);
            case "bench" -> Bench.main(rest);
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
        String config = null, out = null, master = null;
        boolean resume = false, single = false;
        List<String> overrides = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--config" -> config = value(args, ++i, a);
                case "--out" -> out = value(args, ++i, a);
                case "--master" -> master = value(args, ++i, a);
                case "--single-process" -> single = true;
                case "--resume" -> resume = true;
                default -> {
                    if (a.startsWith("--") || !a.contains("=")) throw new IllegalArgumentException("unknown train option '" + a + "'\n" + USAGE);
                    overrides.add(a);
                }
            }
        }
        if (out == null) throw new IllegalArgumentException("train needs --out DIR\n" + USAGE);
        if (single && master != null) throw new IllegalArgumentException("--single-process and --master exclude each other");
        Config cfg = Config.load(config == null ? null : Path.of(config), overrides);
        Recipe recipe = new Recipe(cfg);
        System.out.println("config: " + cfg.asMap());
        Trainer.EpochMetrics m;
        if (single) {
            try (SingleProcess run = new SingleProcess(recipe, RunFiles.local(Path.of(out)), System.out)) {
                if (resume) run.trainer().resume();
                m = run.trainer().run();
            }
        } else {
            try (SparkSession spark = SparkSession.builder().config(SparkJob.sparkConf(cfg, master)).getOrCreate();
                 SparkJob job = new SparkJob(recipe, spark, out, System.out)) {
                if (resume) job.trainer().resume();
                m = job.trainer().run();
            }
        }
        if (m != null) System.out.println("final: " + m.toJson());
    }

    private static String value(String[] args, int i, String opt) {
        if (i >= args.length) throw new IllegalArgumentException(opt + " needs a value");
        return args[i];
    }
}
