package org.addernet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.zip.GZIPOutputStream;
import org.addernet.data.SyntheticImageNet;
import org.addernet.model.Checkpoint;
import org.addernet.train.Checkpoints;
import org.addernet.train.Config;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bad-input corpus, run through the CLI in this JVM ({@link Main#runReporting}): damaged IDX, CIFAR and
 * ImageFolder data, every config key with a malformed or out-of-range value, damaged checkpoints and unusable
 * output folders. Each must end in a clear error: a non-zero exit, exactly one line on stderr naming the file or
 * key (the expected part is given per case), no stack trace anywhere, and never a silent success.
 */
class BadInputCorpusTest {
    @TempDir
    static Path tmp;

    /** A tiny valid Fashion-MNIST-format dataset (IDX, gzip), 40 training and 20 test images. */
    static Path goodIdx;
    /** A checkpoint of a one-epoch LeNet run on it. */
    static Path goodCheckpoint;

    record Case(String name, String expect, List<String> args) {}

    static final List<Case> CASES = new ArrayList<>();

    static void idxImages(Path f, int magic, int n, int rows, boolean gzip) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(b);
        d.writeInt(magic);
        d.writeInt(n);
        d.writeInt(rows);
        d.writeInt(rows);
        for (int i = 0; i < n * rows * rows; i++) d.write((i * 37) & 0xff);
        write(f, b.toByteArray(), gzip);
    }

    static void idxLabels(Path f, int n, int bad, boolean gzip) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(b);
        d.writeInt(0x801);
        d.writeInt(n);
        for (int i = 0; i < n; i++) d.write(i == n / 2 && bad >= 0 ? bad : i % 10);
        write(f, b.toByteArray(), gzip);
    }

    static void write(Path f, byte[] raw, boolean gzip) throws IOException {
        Files.createDirectories(f.getParent());
        try (OutputStream o = gzip ? new GZIPOutputStream(Files.newOutputStream(f)) : Files.newOutputStream(f)) {
            o.write(raw);
        }
    }

    static Path idxSet(String name) throws IOException {
        Path d = tmp.resolve("idx-" + name);
        idxImages(d.resolve("train-images-idx3-ubyte.gz"), 0x803, 40, 28, true);
        idxLabels(d.resolve("train-labels-idx1-ubyte.gz"), 40, -1, true);
        idxImages(d.resolve("t10k-images-idx3-ubyte.gz"), 0x803, 20, 28, true);
        idxLabels(d.resolve("t10k-labels-idx1-ubyte.gz"), 20, -1, true);
        return d;
    }

    static List<String> trainArgs(Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("train", "--single-process", "--out", out.toString(), "model=lenet5bn",
                "dataset=fashion-mnist", "data_dir=" + goodIdx, "batch_size=20", "epochs=1", "threads=1", "log_every=1000"));
        a.addAll(List.of(more));
        return a;
    }

    static void add(String name, String expect, List<String> args) {
        CASES.add(new Case(name, expect, args));
    }

    static int run(List<String> args, ByteArrayOutputStream out, ByteArrayOutputStream err) {
        PrintStream saved = System.out;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            return Main.runReporting(args.toArray(String[]::new), new PrintStream(err, true, StandardCharsets.UTF_8));
        } finally {
            System.setOut(saved);
        }
    }

    @BeforeAll
    static void corpus() throws Exception {
        goodIdx = idxSet("good");
        Path run = tmp.resolve("good-run");
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        assertEquals(0, run(trainArgs(run), o, e), () -> "the good run must succeed: " + e + o);
        goodCheckpoint = run.resolve(Checkpoints.newest(org.addernet.train.RunFiles.local(run)));
        byte[] ckpt = Files.readAllBytes(goodCheckpoint);

        // IDX files.
        Path d;
        d = idxSet("truncated");
        byte[] gz = Files.readAllBytes(d.resolve("train-images-idx3-ubyte.gz"));
        Files.write(d.resolve("train-images-idx3-ubyte.gz"), java.util.Arrays.copyOf(gz, gz.length / 2));
        add("IDX gzip truncated", "train-images-idx3-ubyte", dataArgs(d));
        d = idxSet("garbled");
        Files.write(d.resolve("train-labels-idx1-ubyte.gz"), "garbage, not gzip at all".getBytes(StandardCharsets.US_ASCII));
        add("IDX garbled", "train-labels-idx1-ubyte", dataArgs(d));
        d = idxSet("empty");
        Files.write(d.resolve("t10k-images-idx3-ubyte.gz"), new byte[0]);
        add("IDX empty file", "t10k-images-idx3-ubyte", dataArgs(d));
        d = idxSet("magic");
        idxImages(d.resolve("train-images-idx3-ubyte.gz"), 0x804, 40, 28, true);
        add("IDX wrong magic", "train-images-idx3-ubyte", dataArgs(d));
        d = idxSet("label");
        idxLabels(d.resolve("train-labels-idx1-ubyte.gz"), 40, 200, true);
        add("IDX label out of range", "train-labels-idx1-ubyte", dataArgs(d));
        d = idxSet("count");
        idxLabels(d.resolve("train-labels-idx1-ubyte.gz"), 39, -1, true);
        add("IDX count mismatch", "train-labels-idx1-ubyte", dataArgs(d));
        d = idxSet("size");
        idxImages(d.resolve("train-images-idx3-ubyte.gz"), 0x803, 40, 27, true);
        add("IDX wrong image size", "train-images-idx3-ubyte", dataArgs(d));

        // CIFAR-10 binary batches.
        for (String kind : new String[] {"truncated", "empty", "label"}) {
            Path c = tmp.resolve("cifar-" + kind).resolve("cifar-10-batches-bin");
            Files.createDirectories(c);
            for (String f : new String[] {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}) {
                byte[] recs = new byte[3 * 3073];
                for (int r = 0; r < 3; r++) recs[r * 3073] = (byte) r;
                Files.write(c.resolve(f), recs);
            }
            Path bad = c.resolve("data_batch_3.bin");
            switch (kind) {
                case "truncated" -> Files.write(bad, new byte[3073 + 100]);
                case "empty" -> Files.write(bad, new byte[0]);
                default -> {
                    byte[] recs = Files.readAllBytes(bad);
                    recs[3073] = 10;
                    Files.write(bad, recs);
                }
            }
            add("CIFAR " + kind, "data_batch_3.bin", List.of("train", "--single-process", "--out", tmp.resolve("o-cifar-" + kind).toString(),
                    "model=resnet20", "dataset=cifar10", "data_dir=" + c.getParent(), "batch_size=2", "epochs=1", "threads=1"));
        }

        // ImageFolder trees.
        for (String kind : new String[] {"not-an-image", "zero-bytes", "empty-class"}) {
            Path root = tmp.resolve("folder-" + kind);
            SyntheticImageNet.generate(root, 2, 3, 1, 5);
            String cls = SyntheticImageNet.className(1);
            String expect = switch (kind) {
                case "not-an-image" -> {
                    Files.writeString(root.resolve("train/" + cls + "/zz_text.JPEG"), "this is a text file, not a JPEG");
                    yield "zz_text.JPEG";
                }
                case "zero-bytes" -> {
                    Files.write(root.resolve("train/" + cls + "/zz_empty.JPEG"), new byte[0]);
                    yield "zz_empty.JPEG";
                }
                default -> {
                    Files.createDirectories(root.resolve("train/zz_no_images"));
                    yield "zz_no_images";
                }
            };
            add("ImageFolder " + kind, expect, List.of("train", "--single-process", "--out", tmp.resolve("o-folder-" + kind).toString(),
                    "model=resnet18", "dataset=imagenet", "image_size=64", "eval_resize=72", "data_dir=" + root, "batch_size=2", "epochs=1", "threads=1"));
        }

        // Every config key with a malformed value, and the numeric ones out of range.
        for (Config.Key k : Config.KEYS) {
            if (k.name().equals("data_dir")) continue; // any string is a path: the data cases above cover bad folders
            add("key " + k.name() + " malformed", "'" + k.name() + "'", trainArgs(tmp.resolve("o-key-" + k.name()), k.name() + "=bogus!"));
        }
        String[][] ranges = {{"epochs", "0"}, {"batch_size", "0"}, {"lr", "0"}, {"lr", "-0.1"}, {"lr", "NaN"}, {"momentum", "-1"},
                {"weight_decay", "-1"}, {"eta", "0"}, {"lr_gamma", "0"}, {"warmup_epochs", "-1"}, {"warmup_epochs", "5"},
                {"lr_milestones", "0,3"}, {"threads", "-1"}, {"emulate_workers", "0"}, {"eval_batch_size", "0"}, {"train_limit", "-1"},
                {"test_limit", "-1"}, {"log_every", "0"}, {"keep_checkpoints", "0"}, {"max_steps", "-1"}, {"checkpoint_every_steps", "-1"},
                {"workers", "-1"}, {"tree_depth", "0"}, {"image_size", "0"}, {"eval_resize", "0"}, {"max_bad_images", "-1"},
                {"seed", "1.5"}, {"image_cache", "BOGUS"}, {"nesterov", "yes"}, {"spark.executor.memory", "abc"},
                {"spark.driver.memory", "4x"}};
        for (String[] r : ranges) {
            add("key " + r[0] + "=" + r[1], "'" + r[0] + "'", trainArgs(tmp.resolve("o-range-" + r[0] + r[1].hashCode()), r[0] + "=" + r[1]));
        }
        add("key unknown", "'learning_rate'", trainArgs(tmp.resolve("o-unknown"), "learning_rate=0.1"));

        // Checkpoints: truncated, bit-flipped, empty, of another model, of another format version, non-finite.
        Path cdir = tmp.resolve("ckpts");
        Files.createDirectories(cdir);
        Path truncated = cdir.resolve("truncated.ckpt"), flipped = cdir.resolve("flipped.ckpt"), empty = cdir.resolve("empty.ckpt"),
                version = cdir.resolve("version.ckpt"), nan = cdir.resolve("nan.ckpt"), text = cdir.resolve("text.ckpt");
        Files.write(truncated, java.util.Arrays.copyOf(ckpt, ckpt.length - 1000));
        byte[] f = ckpt.clone();
        f[f.length - 3000] ^= 0x01;
        Files.write(flipped, f);
        Files.write(empty, new byte[0]);
        byte[] v = ckpt.clone();
        v[11] = 9; // the int32 version after the 8-byte magic
        Files.write(version, v);
        Files.writeString(text, "model=lenet5bn\n");
        Checkpoint c;
        try (var in = Files.newInputStream(goodCheckpoint)) {
            c = Checkpoint.read(in, "good");
        }
        c.tensors().get("conv2.adder").values()[7] = Float.NaN;
        try (var out = Files.newOutputStream(nan)) {
            c.write(out);
        }
        for (Path p : new Path[] {truncated, flipped, empty, version, text, nan}) {
            add("evaluate checkpoint " + p.getFileName(), p.toString(), List.of("evaluate", "--checkpoint", p.toString()));
        }
        add("evaluate checkpoint of another model", "resnet20", List.of("evaluate", "--checkpoint", goodCheckpoint.toString(), "model=resnet20"));
        add("evaluate missing checkpoint", "no-such.ckpt", List.of("evaluate", "--checkpoint", cdir.resolve("no-such.ckpt").toString()));
        for (Path p : new Path[] {truncated, flipped, version, nan}) {
            add("resume-from checkpoint " + p.getFileName(), p.getFileName().toString(),
                    trainArgs(tmp.resolve("o-resume-" + p.getFileName()), "--resume-from", p.toString()));
        }
        add("resume with a changed recipe", "lr: 0.1 -> 0.5", trainArgs(run, "--resume", "lr=0.5"));
        add("train into a finished run without --resume", run.toString(), trainArgs(run));

        // Output folders: a regular file, below a regular file.
        Path file = tmp.resolve("plain-file");
        Files.writeString(file, "x");
        add("--out is a file", file.toString(), trainArgs(file));
        add("--out below a file", file.resolve("sub").toString(), trainArgs(file.resolve("sub")));
    }

    static List<String> dataArgs(Path dataDir) {
        List<String> a = trainArgs(tmp.resolve("o-" + dataDir.getFileName()));
        a.add("data_dir=" + dataDir);
        return a;
    }

    @Test
    void everyBadInputEndsInOneClearLine() {
        int clear = 0;
        List<String> failures = new ArrayList<>();
        for (Case c : CASES) {
            ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
            int code = run(c.args(), out, err);
            String e = err.toString(StandardCharsets.UTF_8), o = out.toString(StandardCharsets.UTF_8);
            List<String> lines = e.lines().toList();
            String problem = null;
            if (code == 0) problem = "exit 0 (silent success)";
            else if (lines.size() != 1) problem = lines.size() + " lines on stderr";
            else if (!lines.get(0).startsWith("addernet: ")) problem = "not an 'addernet:' line";
            else if (!lines.get(0).contains(c.expect())) problem = "does not name '" + c.expect() + "'";
            else if ((e + o).contains("\tat ") || (e + o).contains("Exception in thread")) problem = "stack trace";
            else if (lines.get(0).length() > 600) problem = "a line of " + lines.get(0).length() + " characters";
            System.out.printf(Locale.ROOT, "[corpus] %-45s exit %d  %s%n", c.name(), code, lines.isEmpty() ? "(nothing)" : lines.get(0));
            if (problem == null) clear++;
            else failures.add(c.name() + ": " + problem + ": " + e);
        }
        System.out.printf(Locale.ROOT, "%d inputs tried, %d clear errors%n", CASES.size(), clear);
        assertTrue(failures.isEmpty(), String.join("\n", failures));
        assertEquals(CASES.size(), clear);
    }

    @Test
    void debugModePrintsTheStackTrace() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setProperty("addernet.debug", "true");
        try {
            assertEquals(2, run(List.of("evaluate", "--checkpoint", tmp.resolve("nothing-here.ckpt").toString()), out, err));
        } finally {
            System.clearProperty("addernet.debug");
        }
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("\tat org.addernet."), err.toString(StandardCharsets.UTF_8));
    }
}
