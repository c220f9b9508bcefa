package org.addernet.data;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * CIFAR-10 / CIFAR-100 "binary version" batches: fixed-size records of label byte(s) followed by 3072
 * pixel bytes (1024 red, 1024 green, 1024 blue, each row-major 32x32), i.e. already CHW.
 *
 * <ul>
 *   <li>CIFAR-10: {@code data_batch_1.bin .. data_batch_5.bin} (train), {@code test_batch.bin}; record =
 *       label, 3072 pixels (3073 bytes).</li>
 *   <li>CIFAR-100: {@code train.bin}, {@code test.bin}; record = coarse label, fine label, 3072 pixels
 *       (3074 bytes). We use the fine label (100 classes), as the paper's CIFAR-100 results do.</li>
 * </ul>
 * Files are looked up in {@code dir}, then in the directory the official archive extracts to
 * ({@code dir/cifar-10-batches-bin}, {@code dir/cifar-100-binary}).
 */
public final class CifarReader {
    static final int SIDE = 32;
    static final int PIXELS = 3 * SIDE * SIDE;
    static final String CIFAR10_SUBDIR = "cifar-10-batches-bin";
    static final String CIFAR100_SUBDIR = "cifar-100-binary";

    private CifarReader() {
    }

    public static ImageDataset readCifar10(Path dir, boolean train) {
        List<String> names = cifar10Files(train);
        Path base = locate(dir, CIFAR10_SUBDIR, names, "CIFAR-10 " + (train ? "training" : "test") + " batches");
        List<Path> files = new ArrayList<>();
        for (String n : names) files.add(base.resolve(n));
        return read(files, 1, 10, "cifar10" + (train ? "/train" : "/test"));
    }

    public static ImageDataset readCifar100(Path dir, boolean train) {
        List<String> names = List.of(train ? "train.bin" : "test.bin");
        Path base = locate(dir, CIFAR100_SUBDIR, names, "CIFAR-100 " + (train ? "training" : "test") + " data");
        return read(List.of(base.resolve(names.get(0))), 2, 100, "cifar100" + (train ? "/train" : "/test"));
    }

    /** One CIFAR binary file: {@code train.bin}/{@code test.bin} are CIFAR-100's (2 label bytes), any other CIFAR-10's batches. */
    public static ImageDataset readFile(Path file) {
        String n = file.getFileName().toString();
        boolean cifar100 = n.equals("train.bin") || n.equals("test.bin");
        return read(List.of(file), cifar100 ? 2 : 1, cifar100 ? 100 : 10, file.toString());
    }

    static List<String> cifar10Files(boolean train) {
        return train
                ? List.of("data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin")
                : List.of("test_batch.bin");
    }

    /** The directory (dir itself or its official sub-directory) holding all {@code names}, or null. */
    static Path findDir(Path dir, String subdir, List<String> names) {
        for (Path candidate : new Path[] {dir, dir.resolve(subdir)}) {
            boolean all = true;
            for (String n : names) all &= Files.isRegularFile(candidate.resolve(n));
            if (all) return candidate;
        }
        return null;
    }

    private static Path locate(Path dir, String subdir, List<String> names, String what) {
        Path found = findDir(dir, subdir, names);
        if (found != null) return found;
        // Name the files that are missing from the more complete candidate, which is what the user must fix.
        List<String> missing = new ArrayList<>();
        Path best = Files.isDirectory(dir.resolve(subdir)) ? dir.resolve(subdir) : dir;
        for (String n : names) if (!Files.isRegularFile(best.resolve(n))) missing.add(n);
        throw new DataFormatException("missing file: no " + what + " in " + dir.toAbsolutePath() + " or "
                + dir.resolve(subdir).toAbsolutePath() + "; looked for " + String.join(", ", names)
                + " (missing in " + best.toAbsolutePath() + ": " + String.join(", ", missing) + ")");
    }

    // labelBytes = 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine; the fine label is the last one).
    private static ImageDataset read(List<Path> files, int labelBytes, int classes, String name) {
        int record = labelBytes + PIXELS;
        long total = 0;
        long[] sizes = new long[files.size()];
        for (int f = 0; f < files.size(); f++) {
            Path file = files.get(f);
            try {
                sizes[f] = Files.size(file);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
            }
            if (sizes[f] == 0 || sizes[f] % record != 0) {
                throw new DataFormatException(file + ": truncated file: size " + sizes[f] + " bytes is not a"
                        + " positive multiple of the " + record + "-byte record (" + sizes[f] / record
                        + " full records, then " + sizes[f] % record + " bytes; expected "
                        + (sizes[f] / record + 1) * record + " bytes)");
            }
            total += sizes[f] / record;
        }
        if (total * PIXELS > Integer.MAX_VALUE - 16) throw new DataFormatException(name + ": too many images: " + total);
        int count = (int) total;
        byte[] pixels = new byte[count * PIXELS];
        int[] labels = new int[count];
        byte[] buf = new byte[record];
        int i = 0;
        for (int f = 0; f < files.size(); f++) {
            Path file = files.get(f);
            try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
                long n = sizes[f] / record;
                for (long r = 0; r < n; r++, i++) {
                    int got = in.readNBytes(buf, 0, record);
                    if (got < record) {
                        // The file shrank between the size check and the read.
                        throw new DataFormatException(file + ": truncated file: expected " + sizes[f]
                                + " bytes, found " + (r * record + got));
                    }
                    int label = buf[labelBytes - 1] & 0xFF;
                    if (label >= classes) {
                        throw new DataFormatException(file + ": label out of range: label " + label + " in record "
                                + r + ", expected 0.." + (classes - 1));
                    }
                    labels[i] = label;
                    System.arraycopy(buf, labelBytes, pixels, i * PIXELS, PIXELS);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
            }
        }
        return new ImageDataset(name, pixels, labels, 3, SIDE, SIDE, classes);
    }
}
