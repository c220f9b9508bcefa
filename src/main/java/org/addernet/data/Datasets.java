package org.addernet.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The datasets we know by name, and their defaults: class count, input shape, normalization and the
 * default training augmentation (the paper's recipes: none for MNIST-like data, crop+flip for CIFAR).
 *
 * <p>Normalization constants are the ones the reference PyTorch code uses (per-channel mean/std of the
 * training set in [0, 1] units), so that a model trained here and one trained there see the same inputs.
 */
public final class Datasets {
    /** Training-time augmentation a dataset uses by default. */
    public enum Augmentation {
        /** Normalize only. */
        NONE,
        /** RandomCrop(size, padding=4) with zero padding, then RandomHorizontalFlip(0.5). */
        CIFAR,
        /**
         * JPEGs decoded in the tasks: RandomResizedCrop + RandomHorizontalFlip for training, resize + center crop
         * for evaluation (torchvision's ImageNet transforms).
         */
        IMAGENET
    }

    /** Defaults of one dataset. {@code mean}/{@code std} are per channel, in [0, 1] pixel units. */
    public record Spec(String name, int numClasses, int channels, int height, int width,
                       float[] mean, float[] std, Augmentation augmentation) {
        public Spec {
            mean = mean.clone();
            std = std.clone();
        }

        @Override
        public float[] mean() {
            return mean.clone();
        }

        @Override
        public float[] std() {
            return std.clone();
        }
    }

    public static final String MNIST = "mnist";
    public static final String FASHION_MNIST = "fashion-mnist";
    public static final String CIFAR10 = "cifar10";
    public static final String CIFAR100 = "cifar100";
    /** Any ImageFolder tree ({@code train/<class>/*.JPEG}, {@code val/<class>/*.JPEG}) or its Parquet shards. */
    public static final String IMAGENET = "imagenet";

    private static final List<Spec> SPECS = List.of(
            new Spec(MNIST, 10, 1, 28, 28, new float[] {0.1307f}, new float[] {0.3081f}, Augmentation.NONE),
            new Spec(FASHION_MNIST, 10, 1, 28, 28, new float[] {0.2860f}, new float[] {0.3530f}, Augmentation.NONE),
            new Spec(CIFAR10, 10, 3, 32, 32, new float[] {0.4914f, 0.4822f, 0.4465f},
                    new float[] {0.2470f, 0.2435f, 0.2616f}, Augmentation.CIFAR),
            new Spec(CIFAR100, 100, 3, 32, 32, new float[] {0.5071f, 0.4865f, 0.4409f},
                    new float[] {0.2673f, 0.2564f, 0.2762f}, Augmentation.CIFAR),
            // Classes come from the folder names (1000 for ImageNet itself); the size from image_size.
            new Spec(IMAGENET, 1000, 3, 224, 224, new float[] {0.485f, 0.456f, 0.406f},
                    new float[] {0.229f, 0.224f, 0.225f}, Augmentation.IMAGENET));

    private Datasets() {
    }

    /** All known dataset names. */
    public static List<String> names() {
        return SPECS.stream().map(Spec::name).toList();
    }

    /** The defaults of {@code name} (case-insensitive); an unknown name is an error listing the known ones. */
    public static Spec spec(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        for (Spec s : SPECS) if (s.name().equals(n)) return s;
        throw new IllegalArgumentException("unknown dataset '" + name + "'; known datasets: " + String.join(", ", names()));
    }

    /**
     * Reads a split of dataset {@code name} from {@code dataDir} (no network; see {@link #open} for the
     * lookup that may also use the Debian package or download).
     */
    public static ImageDataset load(String name, Path dataDir, boolean train) {
        Spec s = spec(name);
        return switch (s.name()) {
            case MNIST, FASHION_MNIST -> IdxReader.readMnist(dataDir, train, s.name());
            case CIFAR10 -> CifarReader.readCifar10(dataDir, train);
            case CIFAR100 -> CifarReader.readCifar100(dataDir, train);
            case IMAGENET -> throw new IllegalArgumentException("dataset imagenet is not held in memory: it is read as"
                    + " compressed images (ImageFolder or Parquet shards) by the jobs");
            default -> throw new IllegalStateException("no reader for " + s.name());
        };
    }

    /** {@link DatasetDownloader#resolve} then {@link #load}: what a user running "train on X" expects. */
    public static ImageDataset open(String name, Path dataDir, boolean train) throws IOException {
        Path dir = DatasetDownloader.resolve(name, dataDir);
        // What a run reads is always said: a silent fallback to another copy must not go unnoticed.
        System.out.println("data: " + spec(name).name() + " " + (train ? "training" : "test") + " split from " + dir.toAbsolutePath());
        return load(name, dir, train);
    }
}
