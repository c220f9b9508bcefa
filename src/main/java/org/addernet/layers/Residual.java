package org.addernet.layers;

import org.addernet.engine.Engine;
import org.addernet.engine.Tensor;
import org.addernet.engine.TensorPool;
import org.addernet.engine.ThreadPool;

/**
 * The ResNet residual wiring {@code relu(main(x) + shortcut(x))}, where the shortcut is the identity or
 * {@code downsample} (1x1 adder/conv + BN) when the shape changes. {@code main} is the basic block's
 * conv-bn-relu-conv-bn or the bottleneck's three convolutions; their parameters are named by the caller
 * ({@code layerS.B.conv1}, ...), so this class only wires the sum. {@code inPlace} (torchvision's
 * {@code out += identity}) writes the sum over main's output, which is right when main's backward does not need
 * its own output (it ends with a BatchNorm). In training models the sum and its ReLU are done by main's last
 * BatchNorm instead ({@link BatchNorm2d#setShortcut}: the shortcut runs first, the BN writes {@code max(bn(x) + s, 0)}).
 */
public final class Residual implements Layer {
    private final String name;
    private final Layer main;
    private final Layer downsample; // null: identity shortcut
    private final boolean inPlace;
    /** Threads of the elementwise passes (null: the calling thread). */
    private final ThreadPool threads;
    private final Passes passes = Passes.get();
    private TensorPool pool = new TensorPool();
    private TensorPool activations;
    private Tensor out;
    /** The last forward's sum and ReLU ran inside main's last BatchNorm ({@link #fusedBatchNorm}). */
    private boolean fused;

    public Residual(String name, Layer main, Layer downsample, boolean inPlace) {
        this(null, name, main, downsample, inPlace);
    }

    /** As above, the sum, the ReLU and their gradients split over {@code engine}'s threads (null: one thread). */
    public Residual(Engine engine, String name, Layer main, Layer downsample, boolean inPlace) {
        this.threads = engine == null ? null : engine.pool();
        this.name = name;
        this.main = main;
        this.downsample = downsample;
        this.inPlace = inPlace;
    }

    @Override
    public void setNeedsInputGrad(boolean needed) {
        main.setNeedsInputGrad(needed);
        if (downsample != null) downsample.setNeedsInputGrad(needed);
    }

    @Override
    public void setPool(TensorPool pool) {
        this.pool = pool;
        main.setPool(pool);
        if (downsample != null) downsample.setPool(pool);
    }

    @Override
    public void setActivationPool(TensorPool pool) {
        this.activations = pool;
        main.setActivationPool(pool);
        if (downsample != null) downsample.setActivationPool(pool);
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        if (activations != null && !training && inPlace && main instanceof Sequential seq && seq.fusesResidual()) {
            // Eval-only: the shortcut first, then main with the sum and ReLU fused into its last conv + BatchNorm, applied
            // by the engine's threads as they write (the same float operations as below, no pass of its own).
            Tensor s = downsample == null ? x : downsample.forward(x, false);
            Tensor out = seq.forwardEval(x, s.data);
            if (!out.sameShape(s)) throw new IllegalStateException("residual shapes differ: " + out + " vs " + s);
            if (s != x) activations.give(s);
            return out;
        }
        BatchNorm2d last = fusedBatchNorm();
        if (last != null) {
            // The shortcut first, then main, whose last BatchNorm adds it and clamps as it normalizes: the same float
            // operations as the pass below, without main's output written and read again.
            Tensor s = downsample == null ? x : downsample.forward(x, training);
            last.setShortcut(s.data);
            Tensor m = main.forward(x, training);
            if (!m.sameShape(s)) throw new IllegalStateException("residual shapes differ: " + m + " vs " + s);
            this.out = m;
            this.fused = true;
            return m;
        }
        fused = false;
        Tensor m = main.forward(x, training);
        Tensor s = downsample == null ? x : downsample.forward(x, training);
        if (!m.sameShape(s)) throw new IllegalStateException("residual shapes differ: " + m + " vs " + s);
        Tensor out = inPlace ? m : activations != null ? activations.take(m.n, m.c, m.h, m.w) : Tensor.reuse(this.out, m.n, m.c, m.h, m.w);
        float[] md = m.data, sd = s.data, od = out.data;
        long t0 = PassTimes.start();
        Passes.forEach(threads, m.size(), (from, to) -> passes.addRelu(md, sd, od, from, to));
        PassTimes.done(PassTimes.Kind.RESIDUAL, t0);
        if (activations != null) { // eval-only: the branches' outputs are consumed (x is the caller's)
            if (s != x) activations.give(s);
            if (out != m) activations.give(m);
        } else {
            this.out = out;
        }
        return out;
    }

    /**
     * Main's last layer when it is a BatchNorm without a ReLU of its own and the sum may go over its output (in place;
     * not in an eval-only model, which fuses the sum into the convolution's writes instead): it then takes the sum and
     * the ReLU, and in the backward the mask and the shortcut's copy of the gradient ({@link BatchNorm2d#setShortcut}).
     */
    private BatchNorm2d fusedBatchNorm() {
        if (!inPlace || activations != null) return null;
        Layer last = main;
        if (main instanceof Sequential seq) last = seq.layers().isEmpty() ? null : seq.layers().get(seq.layers().size() - 1);
        return last instanceof BatchNorm2d bn && !bn.hasRelu() ? bn : null;
    }

    @Override
    public Tensor backward(Tensor dy) {
        // Both branches consume their gradient, so the shortcut gets a copy, written by the ReLU's mask pass (fused:
        // main's last BatchNorm's first pass writes it).
        Tensor dCopy = pool.take(out.n, out.c, out.h, out.w);
        if (fused) {
            fusedBatchNorm().setShortcutGradient(dCopy.data);
        } else {
            float[] od = out.data, dyd = dy.data, cd = dCopy.data;
            long t0 = PassTimes.start();
            Passes.forEach(threads, out.size(), (from, to) -> passes.reluGradient(od, dyd, cd, from, to));
            PassTimes.done(PassTimes.Kind.RESIDUAL, t0);
        }
        Tensor dMain = main.backward(dy);
        Tensor dShort = downsample == null ? dCopy : downsample.backward(dCopy);
        if (dMain != null) {
            float[] dm = dMain.data, ds = dShort.data;
            long t1 = PassTimes.start();
            Passes.forEach(threads, dMain.size(), (from, to) -> passes.addInto(dm, ds, from, to));
            PassTimes.done(PassTimes.Kind.RESIDUAL, t1);
        }
        pool.give(dShort);
        return dMain;
    }

    @Override
    public Costs.Act describe(Costs.Act x, Costs costs) {
        Costs.Act m = main.describe(x, costs);
        Costs.Act s = downsample == null ? x : downsample.describe(x, costs);
        if (m.c != s.c || m.h != s.h || m.w != s.w) throw new IllegalStateException("residual shapes differ: " + m + " vs " + s);
        Costs.Act y = new Costs.Act(m.c, m.h, m.w);
        costs.keep(y);
        costs.add(name, "add+relu", y, 0, 0, 0, y.size(), false);
        return y;
    }
}
