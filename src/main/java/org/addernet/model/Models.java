package org.addernet.model;

import java.util.ArrayList;
import java.util.List;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Rng;
import org.addernet.layers.BasicBlock;
import org.addernet.layers.BatchNorm2d;
import org.addernet.layers.Conv2d;
import org.addernet.layers.GlobalAvgPool;
import org.addernet.layers.Layer;
import org.addernet.layers.MaxPool2d;
import org.addernet.layers.ReLU;
import org.addernet.layers.Sequential;

/**
 * The model zoo (DESIGN.md §2), with PyTorch's parameter names so that checkpoints and golden cases map
 * one to one. Each architecture exists as an adder network and as its CNN twin ({@code adder = false}):
 * the same graph with ordinary convolutions in place of the adder layers.
 */
public final class Models {
    public static final List<String> ARCHS = List.of("lenet5bn", "resnet20", "resnet32", "resnet56");

    private Models() {}

    public static Model create(String arch, boolean adder, int classes, int inputSize, Engine engine, long seed) { return create(arch, adder, classes, engine, seed); } // STUB

    /** Builds and initializes a model; {@code seed} fixes the initial weights. */
    public static Model create(String arch, boolean adder, int classes, Engine engine, long seed) {
        if (classes < 2) throw new IllegalArgumentException("classes must be >= 2, got " + classes);
        Builder b = new Builder(engine, adder);
        Model m = switch (arch) {
            case "lenet5bn" -> b.finish(arch, classes, new int[] {1, 28, 28}, lenet5bn(b, classes));
            case "resnet20" -> b.finish(arch, classes, new int[] {3, 32, 32}, cifarResNet(b, 3, classes));
            case "resnet32" -> b.finish(arch, classes, new int[] {3, 32, 32}, cifarResNet(b, 5, classes));
            case "resnet56" -> b.finish(arch, classes, new int[] {3, 32, 32}, cifarResNet(b, 9, classes));
            default -> throw new IllegalArgumentException("unknown model '" + arch + "'; known: " + ARCHS);
        };
        b.init(Rng.derive(seed, Rng.INIT));
        return m;
    }

    /** LeNet-5-BN: every layer, fc ones included, is an adder layer (or conv in the twin); BN on the logits. */
    private static Layer lenet5bn(Builder b, int classes) {
        return new Sequential(List.of(
                b.conv("conv1", true, 1, 6, 5, 1, 2), b.bn("bn1", 6), new ReLU(), new MaxPool2d(2, 2, 0),
                b.conv("conv2", true, 6, 16, 5, 1, 0), b.bn("bn2", 16), new ReLU(), new MaxPool2d(2, 2, 0),
                b.conv("fc1", true, 16, 120, 5, 1, 0), b.bn("bn3", 120), new ReLU(),
                b.conv("fc2", true, 120, 84, 1, 1, 0), b.bn("bn4", 84), new ReLU(),
                b.conv("fc3", true, 84, classes, 1, 1, 0), b.bn("bn5", classes)));
    }

    /**
     * CIFAR ResNet (He et al. 2016, official AdderNet resnet20.py): conv1 3x3 is an ordinary conv, 3 stages of
     * {@code n} basic blocks of adder 3x3 layers (widths 16/32/64), adder 1x1 stride-2 shortcuts, global
     * average pool, {@code fc} an ordinary 1x1 conv without bias, and {@code bn2} on the logits.
     */
    private static Layer cifarResNet(Builder b, int n, int classes) {
        List<Layer> layers = new ArrayList<>(List.of(b.conv("conv1", false, 3, 16, 3, 1, 1), b.bn("bn1", 16), new ReLU()));
        int in = 16;
        int[] widths = {16, 32, 64};
        for (int s = 0; s < 3; s++) {
            int planes = widths[s];
            for (int i = 0; i < n; i++) {
                int stride = (s > 0 && i == 0) ? 2 : 1;
                String p = "layer" + (s + 1) + "." + i + ".";
                Layer main = new Sequential(List.of(
                        b.conv(p + "conv1", true, in, planes, 3, stride, 1), b.bn(p + "bn1", planes), new ReLU(),
                        b.conv(p + "conv2", true, planes, planes, 3, 1, 1), b.bn(p + "bn2", planes)));
                Layer down = null;
                if (stride != 1 || in != planes) {
                    down = new Sequential(List.of(
                            b.conv(p + "downsample.0", true, in, planes, 1, stride, 0), b.bn(p + "downsample.1", planes)));
                }
                layers.add(new BasicBlock(main, down));
                in = planes;
            }
        }
        layers.add(new GlobalAvgPool());
        layers.add(b.conv("fc", false, 64, classes, 1, 1, 0));
        layers.add(b.bn("bn2", classes));
        return new Sequential(layers);
    }

    /** Registers parameters in PyTorch's order and remembers the layers to initialize. */
    private static final class Builder {
        final Engine engine;
        final boolean adder;
        final Params.Builder params = new Params.Builder();
        final List<Conv2d> convs = new ArrayList<>();
        final List<BatchNorm2d> bns = new ArrayList<>();

        Builder(Engine engine, boolean adder) {
            this.engine = engine;
            this.adder = adder;
        }

        /** {@code adderInAdderNet}: whether this layer becomes an adder layer in the adder variant. */
        Conv2d conv(String name, boolean adderInAdderNet, int in, int out, int k, int stride, int pad) {
            Conv2d c = new Conv2d(engine, params, name, adder && adderInAdderNet, in, out, k, stride, pad, false);
            convs.add(c);
            return c;
        }

        BatchNorm2d bn(String name, int channels) {
            BatchNorm2d b = new BatchNorm2d(engine, params, name, channels);
            bns.add(b);
            return b;
        }

        Model finish(String arch, int classes, int[] input, Layer net) {
            return new Model(arch, adder, classes, input, params.build(), net);
        }

        void init(Rng rng) {
            for (Conv2d c : convs) c.init(rng);
            for (BatchNorm2d b : bns) b.init();
        }
    }
}
