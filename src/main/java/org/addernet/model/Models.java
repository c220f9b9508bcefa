package org.addernet.model;

import java.util.ArrayList;
import java.util.List;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Rng;
import org.addernet.layers.BatchNorm2d;
import org.addernet.layers.Conv2d;
import org.addernet.layers.GlobalAvgPool;
import org.addernet.layers.Layer;
import org.addernet.layers.MaxPool2d;
import org.addernet.layers.ReLU;
import org.addernet.layers.Residual;
import org.addernet.layers.Sequential;

/**
 * The model zoo (DESIGN.md §2), with PyTorch's parameter names so that checkpoints and golden cases map
 * one to one. Each architecture exists as an adder network and as its CNN twin ({@code adder = false}):
 * the same graph with ordinary convolutions in place of the adder layers.
 *
 * <p>ReLUs after a BatchNorm and the residual sums run in place, as torchvision's {@code inplace=True} and
 * {@code out += identity}: a BatchNorm's backward needs its input, not its output, so its output buffer can
 * hold the next result (one activation tensor less per ReLU and per block).
 */
public final class Models {
    public static final List<String> ARCHS = List.of("lenet5bn", "resnet20", "resnet32", "resnet56", "resnet18", "resnet34",
            "resnet50");
    /** Smallest input side of the ImageNet ResNets: their last stage is then 1x1 (it downsamples by 32). */
    public static final int MIN_IMAGENET_SIZE = 32;

    private Models() {}

    /** Builds and initializes a model for the architecture's default input; {@code seed} fixes the initial weights. */
    public static Model create(String arch, boolean adder, int classes, Engine engine, long seed) {
        return create(arch, adder, classes, 0, engine, seed);
    }

    /**
     * Builds and initializes a model for square inputs of side {@code inputSize} (0: the architecture's default,
     * {@link #defaultInputSize}). LeNet-5-BN and the CIFAR ResNets take only their fixed size (28, 32); the
     * ImageNet ResNets any size from {@value #MIN_IMAGENET_SIZE} (their average pool is global).
     */
    public static Model create(String arch, boolean adder, int classes, int inputSize, Engine engine, long seed) {
        return create(arch, adder, classes, inputSize, 64, engine, seed);
    }

    /**
     * An eval-only model (what {@code evaluate}, {@code predict}, import and the eval benchmark run): the same layers,
     * initial weights (same {@code seed}) and eval-mode results bit for bit as {@link #create}, without gradient
     * buffers ({@code params().grad} is empty) or backward state, its activations pooled layer by layer. For
     * ResNet-50 that is the weights' size less memory for the gradients alone. Training it fails.
     */
    public static Model createEval(String arch, boolean adder, int classes, int inputSize, Engine engine, long seed) {
        return create(arch, adder, classes, inputSize, 64, engine, seed, true);
    }

    /** As above with the ImageNet ResNets' stem width {@code width} (64 in torchvision; tests shrink it). */
    static Model create(String arch, boolean adder, int classes, int inputSize, int width, Engine engine, long seed) {
        return create(arch, adder, classes, inputSize, width, engine, seed, false);
    }

    /** {@code evalOnly}: parameters without gradients ({@link Params.Builder#buildForInference}). */
    static Model create(String arch, boolean adder, int classes, int inputSize, int width, Engine engine, long seed, boolean evalOnly) {
        if (classes < 2) throw new IllegalArgumentException("classes must be >= 2, got " + classes);
        int size = inputSize == 0 ? defaultInputSize(arch) : inputSize;
        boolean imageNet = arch.equals("resnet18") || arch.equals("resnet34") || arch.equals("resnet50");
        if (imageNet && size < MIN_IMAGENET_SIZE) {
            throw new IllegalArgumentException(arch + " needs inputs of at least " + MIN_IMAGENET_SIZE + "x" + MIN_IMAGENET_SIZE + ", got " + size);
        }
        if (!imageNet && size != defaultInputSize(arch)) {
            throw new IllegalArgumentException(arch + " takes " + defaultInputSize(arch) + "x" + defaultInputSize(arch)
                    + " inputs only, got " + size);
        }
        Builder b = new Builder(engine, adder, imageNet);
        int channels = arch.equals("lenet5bn") ? 1 : 3;
        Layer net = switch (arch) {
            case "lenet5bn" -> lenet5bn(b, classes);
            case "resnet20" -> cifarResNet(b, 3, classes);
            case "resnet32" -> cifarResNet(b, 5, classes);
            case "resnet56" -> cifarResNet(b, 9, classes);
            case "resnet18" -> imageNetResNet(b, new int[] {2, 2, 2, 2}, false, width, classes);
            case "resnet34" -> imageNetResNet(b, new int[] {3, 4, 6, 3}, false, width, classes);
            case "resnet50" -> imageNetResNet(b, new int[] {3, 4, 6, 3}, true, width, classes);
            default -> throw new IllegalArgumentException("unknown model '" + arch + "'; known: " + ARCHS);
        };
        Params params = evalOnly ? b.params.buildForInference() : b.params.build();
        Model m = new Model(arch, adder, classes, new int[] {channels, size, size}, params, net);
        b.init(Rng.derive(seed, Rng.INIT));
        return m;
    }

    /** Input side the architecture is defined for: 28 (LeNet-5-BN), 32 (CIFAR ResNets), 224 (ImageNet ResNets). */
    public static int defaultInputSize(String arch) {
        return switch (arch) {
            case "lenet5bn" -> 28;
            case "resnet20", "resnet32", "resnet56" -> 32;
            case "resnet18", "resnet34", "resnet50" -> 224;
            default -> throw new IllegalArgumentException("unknown model '" + arch + "'; known: " + ARCHS);
        };
    }

    /** Classes of the dataset the architecture is usually trained on: 10 (MNIST, CIFAR-10) or 1000 (ImageNet). */
    public static int defaultClasses(String arch) {
        return defaultInputSize(arch) == 224 ? 1000 : 10;
    }

    /** LeNet-5-BN: every layer, fc ones included, is an adder layer (or conv in the twin); BN on the logits. */
    private static Layer lenet5bn(Builder b, int classes) {
        return new Sequential(List.of(
                b.conv("conv1", true, 1, 6, 5, 1, 2), b.bn("bn1", 6), new ReLU(true), new MaxPool2d(2, 2, 0),
                b.conv("conv2", true, 6, 16, 5, 1, 0), b.bn("bn2", 16), new ReLU(true), new MaxPool2d(2, 2, 0),
                b.conv("fc1", true, 16, 120, 5, 1, 0), b.bn("bn3", 120), new ReLU(true),
                b.conv("fc2", true, 120, 84, 1, 1, 0), b.bn("bn4", 84), new ReLU(true),
                b.conv("fc3", true, 84, classes, 1, 1, 0), b.bn("bn5", classes)));
    }

    /**
     * CIFAR ResNet (He et al. 2016, official AdderNet resnet20.py): conv1 3x3 is an ordinary conv, 3 stages of
     * {@code n} basic blocks of adder 3x3 layers (widths 16/32/64), adder 1x1 stride-2 shortcuts, global
     * average pool, {@code fc} an ordinary 1x1 conv without bias, and {@code bn2} on the logits.
     */
    private static Layer cifarResNet(Builder b, int n, int classes) {
        List<Layer> layers = new ArrayList<>(List.of(b.conv("conv1", false, 3, 16, 3, 1, 1), b.bn("bn1", 16), new ReLU(true)));
        int in = 16;
        int[] widths = {16, 32, 64};
        for (int s = 0; s < 3; s++) {
            for (int i = 0; i < n; i++) {
                layers.add(block(b, "layer" + (s + 1) + "." + i, in, widths[s], (s > 0 && i == 0) ? 2 : 1, false));
                in = widths[s];
            }
        }
        layers.add(new GlobalAvgPool());
        layers.add(b.conv("fc", false, 64, classes, 1, 1, 0));
        layers.add(b.bn("bn2", classes));
        return new Sequential(layers);
    }

    /**
     * ImageNet ResNet, torchvision layout (v1.5: a bottleneck strides in its 3x3 conv) as the official AdderNet
     * resnet50.py: {@code conv1} 7x7/2 ordinary conv + {@code bn1} + ReLU + 3x3/2 max pool; four stages of basic
     * blocks or bottlenecks (expansion 4) at widths w, 2w, 4w, 8w, every conv in them and every shortcut
     * ({@code downsample.0} 1x1 + {@code downsample.1} BN) an adder layer; global average pool; {@code fc} an
     * ordinary 1x1 conv with bias, then {@code bn2} on the logits.
     */
    private static Layer imageNetResNet(Builder b, int[] blocks, boolean bottleneck, int width, int classes) {
        List<Layer> layers = new ArrayList<>(List.of(b.conv("conv1", false, 3, width, 7, 2, 3), b.bn("bn1", width),
                new ReLU(true), new MaxPool2d(3, 2, 1)));
        int in = width;
        for (int s = 0; s < 4; s++) {
            int planes = width << s;
            for (int i = 0; i < blocks[s]; i++) {
                layers.add(block(b, "layer" + (s + 1) + "." + i, in, planes, (s > 0 && i == 0) ? 2 : 1, bottleneck));
                in = bottleneck ? 4 * planes : planes;
            }
        }
        layers.add(new GlobalAvgPool());
        layers.add(b.conv("fc", false, in, classes, 1, 1, 0, true));
        layers.add(b.bn("bn2", classes));
        return new Sequential(layers);
    }

    /**
     * A basic block ({@code conv1} 3x3/s, {@code conv2} 3x3) or a bottleneck ({@code conv1} 1x1, {@code conv2}
     * 3x3/s, {@code conv3} 1x1 to 4x planes), adder layers in the adder variant, each followed by its BN; a
     * {@code downsample} shortcut when the shape changes.
     */
    private static Layer block(Builder b, String name, int in, int planes, int stride, boolean bottleneck) {
        String p = name + ".";
        int out = bottleneck ? 4 * planes : planes;
        Layer main = bottleneck
                ? new Sequential(List.of(
                        b.conv(p + "conv1", true, in, planes, 1, 1, 0), b.bn(p + "bn1", planes), new ReLU(true),
                        b.conv(p + "conv2", true, planes, planes, 3, stride, 1), b.bn(p + "bn2", planes), new ReLU(true),
                        b.conv(p + "conv3", true, planes, out, 1, 1, 0), b.bn(p + "bn3", out)))
                : new Sequential(List.of(
                        b.conv(p + "conv1", true, in, planes, 3, stride, 1), b.bn(p + "bn1", planes), new ReLU(true),
                        b.conv(p + "conv2", true, planes, planes, 3, 1, 1), b.bn(p + "bn2", planes)));
        Layer down = null;
        if (stride != 1 || in != out) {
            down = new Sequential(List.of(b.conv(p + "downsample.0", true, in, out, 1, stride, 0), b.bn(p + "downsample.1", out)));
        }
        return new Residual(name, main, down, true);
    }

    /** Registers parameters in PyTorch's order and remembers the layers to initialize. */
    private static final class Builder {
        final Engine engine;
        final boolean adder;
        /** Conv filters ~ kaiming_normal_(fan_out) (ImageNet ResNets) rather than PyTorch's default. */
        final boolean kaiming;
        final Params.Builder params = new Params.Builder();
        final List<Conv2d> convs = new ArrayList<>();
        final List<BatchNorm2d> bns = new ArrayList<>();

        Builder(Engine engine, boolean adder, boolean kaiming) {
            this.engine = engine;
            this.adder = adder;
            this.kaiming = kaiming;
        }

        /** {@code adderInAdderNet}: whether this layer becomes an adder layer in the adder variant. */
        Conv2d conv(String name, boolean adderInAdderNet, int in, int out, int k, int stride, int pad) {
            return conv(name, adderInAdderNet, in, out, k, stride, pad, false);
        }

        Conv2d conv(String name, boolean adderInAdderNet, int in, int out, int k, int stride, int pad, boolean bias) {
            Conv2d c = new Conv2d(engine, params, name, adder && adderInAdderNet, in, out, k, stride, pad, bias);
            convs.add(c);
            return c;
        }

        BatchNorm2d bn(String name, int channels) {
            BatchNorm2d b = new BatchNorm2d(engine, params, name, channels);
            b.setInPlaceEval(true); // every BN here follows a conv or adder layer whose output only it reads
            bns.add(b);
            return b;
        }

        void init(Rng rng) {
            for (Conv2d c : convs) c.init(rng, kaiming);
            for (BatchNorm2d b : bns) b.init();
        }
    }
}
