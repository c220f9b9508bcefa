package org.addernet.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;
import org.addernet.interop.Interop;
import org.addernet.interop.TorchTensor;
import org.addernet.model.Checkpoint;
import org.addernet.model.Models;

/** {@code addernet import} and {@code addernet export}: argument parsing only; the work is in {@link Interop}. */
final class InteropCommands {
    private InteropCommands() {}

    static void importModel(String[] args, PrintStream out) throws Exception {
        String from = null, model = null, variant = "adder", dest = null, dataset = null, mean = null, std = null;
        int classes = 0;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--from" -> from = value(args, ++i, a);
                case "--model" -> model = value(args, ++i, a);
                case "--variant" -> variant = value(args, ++i, a);
                case "--classes" -> {
                    try {
                        classes = Integer.parseInt(value(args, ++i, a));
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--classes needs an integer, got '" + args[i] + "'");
                    }
                }
                case "--dataset" -> dataset = value(args, ++i, a);
                case "--mean" -> mean = value(args, ++i, a);
                case "--std" -> std = value(args, ++i, a);
                case "--out" -> dest = value(args, ++i, a);
                default -> throw new IllegalArgumentException("unknown import option '" + a + "'\n" + Main.USAGE);
            }
        }
        if (from == null || model == null || dest == null) throw new IllegalArgumentException("import needs --from FILE, --model M and --out CKPT");
        if (!Models.ARCHS.contains(model)) throw new IllegalArgumentException("--model: unknown model '" + model + "'; known: " + Models.ARCHS);
        if (!variant.equals("adder") && !variant.equals("cnn")) throw new IllegalArgumentException("--variant must be adder or cnn, got '" + variant + "'");
        if (classes == 0) classes = Models.defaultClasses(model);
        if (dataset == null) dataset = Interop.defaultDataset(model, classes);
        Checkpoint c = Interop.importFile(Path.of(from), model, variant.equals("adder"), classes, dataset, mean, std, Path.of(dest));
        out.println("imported " + from + " as " + c.meta().get("model") + " (" + classes + " classes, dataset " + dataset + ", "
                + c.tensors().size() + " tensors, mean " + c.meta().getOrDefault("config.mean", "(dataset default)") + ", std "
                + c.meta().getOrDefault("config.std", "(dataset default)") + ") into " + dest);
    }

    static void exportModel(String[] args, PrintStream out) throws Exception {
        String ckpt = null, to = null, format = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--checkpoint" -> ckpt = value(args, ++i, a);
                case "--to" -> to = value(args, ++i, a);
                case "--format" -> format = value(args, ++i, a);
                default -> throw new IllegalArgumentException("unknown export option '" + a + "'\n" + Main.USAGE);
            }
        }
        if (ckpt == null || to == null) throw new IllegalArgumentException("export needs --checkpoint CKPT and --to FILE.pt|FILE.safetensors");
        Path c = Path.of(ckpt);
        if (java.nio.file.Files.isDirectory(c)) {
            // A run folder: its newest checkpoint that verifies, as --resume and evaluate take it.
            org.addernet.train.Checkpoints.Found f = org.addernet.train.Checkpoints.newestValid(org.addernet.train.RunFiles.local(c), out);
            if (f == null) throw new IllegalArgumentException("no checkpoint in " + c + " (expected checkpoints/ckpt-*.ckpt)");
            c = c.resolve(f.name());
        }
        Map<String, TorchTensor> sd = Interop.exportFile(c, Path.of(to), format);
        out.println("exported " + sd.size() + " tensors of " + c + " to " + to + (format != null ? " (" + format + ")" : ""));
    }

    private static String value(String[] args, int i, String opt) {
        if (i >= args.length) throw new IllegalArgumentException(opt + " needs a value");
        return args[i];
    }
}
