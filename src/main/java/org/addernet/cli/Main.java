package org.addernet.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.addernet.train.Config;
import org.addernet.train.Trainer;

/**
 * {@code addernet <command> [options]}: the one entry point. It only parses arguments and wires the parts;
 * the work is in {@link Trainer} and {@link Bench}.
 */
public final class Main {
    private Main() {}

    static final String USAGE = """
            usage: addernet <command> [options]
              train --config FILE --out DIR [--single-process] [--resume] [key=value ...]
                  Trains a model; writes DIR/metrics.jsonl (one JSON object per epoch) and DIR/checkpoint.ckpt.
                  --single-process  the engine-only trainer (the only mode of this version)
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
        Path config = null, out = null;
        boolean resume = false;
        List<String> overrides = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--config" -> config = Path.of(value(args, ++i, a));
                case "--out" -> out = Path.of(value(args, ++i, a));
                case "--single-process" -> { } // the only mode until the Spark job exists; accepted so scripts keep working
                case "--resume" -> resume = true;
                default -> {
                    if (a.startsWith("--") || !a.contains("=")) throw new IllegalArgumentException("unknown train option '" + a + "'\n" + USAGE);
                    overrides.add(a);
                }
            }
        }
        if (out == null) throw new IllegalArgumentException("train needs --out DIR\n" + USAGE);
        Config cfg = Config.load(config, overrides);
        System.out.println("config: " + cfg.asMap());
        try (Trainer t = new Trainer(cfg, out, System.out)) {
            if (resume) t.resume(out.resolve("checkpoint.ckpt"));
            Trainer.EpochMetrics m = t.run();
            if (m != null) System.out.println("final: " + m.toJson());
        }
    }

    private static String value(String[] args, int i, String opt) {
        if (i >= args.length) throw new IllegalArgumentException(opt + " needs a value");
        return args[i];
    }
}
