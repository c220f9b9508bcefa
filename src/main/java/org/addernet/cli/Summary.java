package org.addernet.cli;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import org.addernet.engine.Engine;
import org.addernet.layers.Costs;
import org.addernet.model.Model;
import org.addernet.model.Models;

/**
 * {@code summary --model M [--input CxHxW] [--classes K]}: per layer the output shape, parameters, additions and
 * multiplications of one image's forward pass, for the adder network and its CNN twin side by side, with totals
 * and an energy estimate. Everything is read off the model definitions ({@link Model#describe}); the counting
 * conventions are {@link Costs}'s and are printed with the table.
 *
 * <p>Energy: 45 nm CMOS, FP32 addition 0.9 pJ, FP32 multiplication 3.7 pJ (Horowitz, "Computing's energy
 * problem", ISSCC 2014), the figures the AdderNet literature uses. Arithmetic only: memory traffic, which
 * dominates real hardware, is not modelled.
 */
public final class Summary {
    static final double ADD_PJ = 0.9, MUL_PJ = 3.7;

    private Summary() {}

    public static void main(String[] args) {
        run(args, System.out);
    }

    public static void run(String[] args, PrintStream out) {
        String arch = null;
        int size = 0, channels = 0, classes = 0;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) throw new IllegalArgumentException("missing value after " + a);
            switch (a) {
                case "--model" -> arch = args[++i];
                case "--classes" -> classes = Integer.parseInt(args[++i]);
                case "--input" -> {
                    String[] d = args[++i].toLowerCase(Locale.ROOT).split("x");
                    if (d.length != 3 || !d[1].equals(d[2])) throw new IllegalArgumentException("--input takes CxHxW with H = W, got " + args[i]);
                    channels = Integer.parseInt(d[0]);
                    size = Integer.parseInt(d[1]);
                }
                default -> throw new IllegalArgumentException("unknown option " + a + " (--model M, --input CxHxW, --classes K)");
            }
        }
        if (arch == null) throw new IllegalArgumentException("summary needs --model, one of " + Models.ARCHS);
        if (classes == 0) classes = Models.defaultClasses(arch);
        Model adder, cnn;
        try (Engine engine = Engine.create(1, "scalar")) {
            adder = Models.create(arch, true, classes, size, engine, 0);
            cnn = Models.create(arch, false, classes, size, engine, 0);
        }
        int[] in = adder.inputShape();
        if (channels != 0 && channels != in[0]) throw new IllegalArgumentException(arch + " takes " + in[0] + " input channels, got " + channels);
        print(adder, cnn, out);
    }

    static void print(Model adderModel, Model cnnModel, PrintStream out) {
        Costs a = adderModel.describe(), c = cnnModel.describe();
        List<Costs.Row> ra = a.rows(), rc = c.rows();
        int[] in = adderModel.inputShape();
        out.printf(Locale.ROOT, "%s, input %dx%dx%d, %d classes: one image's forward pass, adder network | CNN twin%n",
                adderModel.arch(), in[0], in[1], in[2], adderModel.classes());
        out.println("counting: conv/fc MAC = 1 mul + 1 add; adder |x - w| accumulate = 2 adds (subtract, accumulate; |.| clears");
        out.println("  the sign bit); bias 1 add per output; BN folded as at inference, 1 mul + 1 add per value; avg pool H*W-1 adds");
        out.println("  + 1 mul per channel; residual sum 1 add per value; ReLU and max pool only compare (not counted). The AdderNet");
        out.println("  paper's #Mul/#Add count the conv/fc layers only: first totals line. 'op' is the adder network's (conv in the twin).");
        String head = "%-28s %-13s %-13s %11s | %15s %15s | %15s %15s%n";
        out.printf(Locale.ROOT, head, "layer", "op", "output", "params", "adds (adder)", "muls (adder)", "adds (cnn)", "muls (cnn)");
        for (int i = 0; i < ra.size(); i++) {
            Costs.Row x = ra.get(i), y = rc.get(i);
            if (!x.name().equals(y.name())) throw new IllegalStateException("adder and CNN models differ at " + x.name() + " / " + y.name());
            out.printf(Locale.ROOT, "%-28s %-13s %-13s %,11d | %,15d %,15d | %,15d %,15d%n", x.name(), x.op(), x.out(), x.params(),
                    x.adds(), x.mults(), y.adds(), y.mults());
        }
        for (boolean filterOnly : new boolean[] {true, false}) {
            out.printf(Locale.ROOT, "%-56s %11s | %15s %15s | %15s %15s%n", filterOnly ? "total, conv/fc layers" : "total, all layers",
                    millions(a.total(Costs.Row::params, filterOnly)), millions(a.total(Costs.Row::adds, filterOnly)),
                    millions(a.total(Costs.Row::mults, filterOnly)), millions(c.total(Costs.Row::adds, filterOnly)),
                    millions(c.total(Costs.Row::mults, filterOnly)));
        }
        out.printf(Locale.ROOT, "parameters: %,d; CNN twin multiply-accumulates (conv/fc): %,d (%s); adder network: %,d |x - w| "
                        + "accumulates + %,d MACs%n", adderModel.params().size(), c.total(Costs.Row::macs, true),
                millions(c.total(Costs.Row::macs, true)), a.total(Costs.Row::macs, true) - a.total(Costs.Row::mults, true),
                a.total(Costs.Row::mults, true));
        for (boolean filterOnly : new boolean[] {true, false}) {
            double ea = energy(a, filterOnly), ec = energy(c, filterOnly);
            out.printf(Locale.ROOT, "energy per image, 45 nm FP32 (add %.1f pJ, mul %.1f pJ), %s: adder %.1f uJ, cnn %.1f uJ, "
                    + "adder/cnn %.3f%n", ADD_PJ, MUL_PJ, filterOnly ? "conv/fc layers" : "all layers", ea, ec, ea / ec);
        }
    }

    /** Microjoules of one forward pass. */
    static double energy(Costs c, boolean filterOnly) {
        return (c.total(Costs.Row::adds, filterOnly) * ADD_PJ + c.total(Costs.Row::mults, filterOnly) * MUL_PJ) * 1e-6;
    }

    static String millions(long v) {
        return String.format(Locale.ROOT, "%.2fM", v / 1e6);
    }
}
