package org.addernet.model;

import java.util.List;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Rng;
import org.addernet.layers.Conv2d;
import org.addernet.layers.MaxPool2d;
import org.addernet.layers.ReLU;
import org.addernet.layers.Sequential;

/** Small networks for tests that the zoo does not hold (the zoo's models all have BN). */
public final class TestNets {
    private TestNets() {}

    /**
     * A BN-free network on 1x28x28 inputs, built from the zoo's layers: {@code conv1} adder 1->4 k5 s2 (12x12),
     * max pool 2 (6x6), {@code conv2} ordinary 4->8 k3 with bias (4x4), ReLU, {@code fc} adder 8->classes k4
     * (1x1 logits). Every sample's gradient is then independent of the other samples of its batch. No ReLU right
     * after an adder layer: its outputs {@code -sum|x - w|} are all negative, a ReLU would pass no gradient (the
     * reason AdderNets put BN there).
     */
    public static Model bnFree(Engine engine, int classes, long seed) {
        Params.Builder pb = new Params.Builder();
        Conv2d conv1 = new Conv2d(engine, pb, "conv1", true, 1, 4, 5, 2, 0, false);
        Conv2d conv2 = new Conv2d(engine, pb, "conv2", false, 4, 8, 3, 1, 0, true);
        Conv2d fc = new Conv2d(engine, pb, "fc", true, 8, classes, 4, 1, 0, false);
        Sequential net = new Sequential(List.of(conv1, new MaxPool2d(2, 2, 0), conv2, new ReLU(), fc));
        Model m = new Model("bnfree", true, classes, new int[] {1, 28, 28}, pb.build(), net);
        Rng rng = Rng.derive(seed, Rng.INIT);
        for (Conv2d c : List.of(conv1, conv2, fc)) c.init(rng, false);
        return m;
    }
}
