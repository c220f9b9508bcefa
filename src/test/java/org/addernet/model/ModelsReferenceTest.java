package org.addernet.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Rng;
import org.addernet.engine.Tensor;
import org.addernet.layers.Costs;
import org.addernet.layers.FiniteDifference;
import org.addernet.layers.Layer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The model zoo against {@code models/reference.json}, written by {@code scripts/model-reference.py} from plain
 * torch definitions: parameter names and shapes in order, buffers, parameter count, and per layer (conv, adder,
 * BN, pooling, in call order) the output shape and multiply-accumulates from forward hooks. Plus where the adder
 * layers are, the ImageNet init, input sizes, and finite differences through a small ResNet-18.
 */
class ModelsReferenceTest {
    static Engine engine;
    static JsonNode reference;

    @BeforeAll
    static void start() throws IOException {
        engine = Engine.create(2, "auto");
        try (InputStream in = ModelsReferenceTest.class.getResourceAsStream("/models/reference.json")) {
            assertTrue(in != null, "test resources lack models/reference.json (scripts/model-reference.py writes it)");
            reference = new ObjectMapper().readTree(in);
        }
    }

    @AfterAll
    static void stop() {
        engine.close();
    }

    @TestFactory
    Stream<DynamicTest> matchesTorchReference() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = reference.get("models").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            for (String variant : new String[] {"adder", "cnn"}) {
                tests.add(DynamicTest.dynamicTest(e.getKey() + " " + variant, () -> compare(e.getKey(), variant, e.getValue())));
            }
        }
        assertEquals(8, tests.size(), "resnet18/34/50 and resnet20, two variants each");
        return tests.stream();
    }

    static void compare(String arch, String variant, JsonNode ref) {
        JsonNode v = ref.get("variants").get(variant);
        int classes = ref.get("classes").asInt();
        int size = ref.get("input").get(1).asInt();
        Model m = Models.create(arch, variant.equals("adder"), classes, size, engine, 1);
        Params p = m.params();
        String what = arch + " " + variant;

        List<String> names = new ArrayList<>(), refNames = new ArrayList<>();
        for (Params.View view : p.params()) names.add(view.name());
        for (JsonNode n : v.get("params")) refNames.add(n.get(0).asText());
        assertEquals(refNames, names, what + ": parameter names in order");
        int i = 0;
        for (JsonNode n : v.get("params")) {
            int[] shape = new int[n.get(1).size()];
            for (int d = 0; d < shape.length; d++) shape[d] = n.get(1).get(d).asInt();
            assertArrayEquals(shape, p.params().get(i++).shape(), what + ": shape of " + n.get(0).asText());
        }
        assertEquals(v.get("total_params").asLong(), p.size(), what + ": parameter count");

        // One num_batches_tracked counter per model instead of one per BN layer (see Model).
        List<String> buffers = new ArrayList<>(), refBuffers = new ArrayList<>();
        for (Params.View view : p.bufferViews()) buffers.add(view.name());
        int tracked = 0;
        for (JsonNode n : v.get("buffers")) {
            if (n.asText().endsWith(".num_batches_tracked")) tracked++;
            else refBuffers.add(n.asText());
        }
        assertEquals(refBuffers, buffers, what + ": buffer names in order");
        assertEquals(buffers.size() / 2, tracked, what + ": one num_batches_tracked per BN layer");

        List<Costs.Row> rows = new ArrayList<>();
        for (Costs.Row r : m.describe().rows()) if (typeOf(r) != null) rows.add(r);
        JsonNode layers = v.get("layers");
        assertEquals(layers.size(), rows.size(), what + ": conv/adder/BN/pool layers");
        long macs = 0;
        for (int k = 0; k < rows.size(); k++) {
            Costs.Row r = rows.get(k);
            JsonNode l = layers.get(k);
            String at = what + " layer " + k + " (" + l.get("name").asText() + ")";
            assertEquals(l.get("name").asText(), r.name(), at + ": name");
            assertEquals(l.get("type").asText(), typeOf(r), at + ": type");
            assertArrayEquals(new int[] {l.get("out").get(0).asInt(), l.get("out").get(1).asInt(), l.get("out").get(2).asInt()},
                    new int[] {r.out().c, r.out().h, r.out().w}, at + ": output shape");
            assertEquals(l.get("macs").asLong(), r.macs(), at + ": multiply-accumulates");
            macs += r.macs();
        }
        System.out.printf("models reference %s: %d parameters, %d layers, %d MACs per image: match%n", what, p.size(), rows.size(), macs);
    }

    /** The fixture's layer type of a row, or null for rows torch has no hooked module for (ReLU, residual sum). */
    static String typeOf(Costs.Row r) {
        String op = r.op();
        if (op.startsWith("conv")) return "conv";
        if (op.startsWith("adder")) return "adder";
        if (op.equals("bn")) return "bn";
        if (op.startsWith("maxpool")) return "maxpool";
        if (op.equals("avgpool")) return "avgpool";
        return null;
    }

    /**
     * DESIGN.md §2: in the ImageNet ResNets every conv inside the blocks and every shortcut conv is an adder layer,
     * conv1 and fc (with bias) are ordinary convolutions; the CNN twin has no adder layer at all.
     */
    @Test
    void adderLayersWhereDesignSays() {
        Pattern inBlocks = Pattern.compile("layer[1-4]\\.\\d+\\.(conv[123]|downsample\\.0)");
        for (String arch : new String[] {"resnet18", "resnet34", "resnet50"}) {
            Params adder = Models.create(arch, true, 1000, engine, 1).params();
            int adderLayers = 0;
            for (Params.View v : adder.params()) {
                String layer = v.name().substring(0, v.name().lastIndexOf('.'));
                if (v.kind() == Params.Kind.ADDER) {
                    adderLayers++;
                    assertTrue(inBlocks.matcher(layer).matches() && v.name().endsWith(".adder"), arch + ": adder layer " + v.name());
                } else if (v.kind() == Params.Kind.CONV) {
                    assertTrue(v.name().equals("conv1.weight") || v.name().equals("fc.weight"), arch + ": ordinary conv " + v.name());
                } else if (v.kind() == Params.Kind.BIAS) {
                    assertEquals("fc.bias", v.name(), arch + ": only fc has a bias");
                }
            }
            int expected = switch (arch) {
                case "resnet18" -> 8 * 2 + 3;
                case "resnet34" -> 16 * 2 + 3;
                default -> 16 * 3 + 4;
            };
            assertEquals(expected, adderLayers, arch + ": adder layers (block convs + downsample shortcuts)");
            for (Params.View v : Models.create(arch, false, 1000, engine, 1).params().params()) {
                assertTrue(v.kind() != Params.Kind.ADDER, arch + " cnn: " + v.name() + " is not an adder layer");
            }
        }
    }

    /** kaiming_normal_(fan_out) for conv filters, N(0, 1) adder filters, PyTorch's default bias, BN 1 and 0. */
    @Test
    void imageNetInit() {
        Model m = Models.create("resnet18", true, 1000, engine, 3);
        Params p = m.params();
        assertEquals(Math.sqrt(2.0 / (64 * 49)), std(p, "conv1.weight"), 0.03 * Math.sqrt(2.0 / (64 * 49)));
        assertEquals(Math.sqrt(2.0 / 1000), std(p, "fc.weight"), 0.01 * Math.sqrt(2.0 / 1000));
        assertEquals(1.0, std(p, "layer4.1.conv2.adder"), 0.01);
        Params.View bias = p.view("fc.bias");
        double bound = 1 / Math.sqrt(512);
        for (int i = 0; i < bias.size(); i++) assertTrue(Math.abs(p.data[bias.offset() + i]) <= bound, "fc.bias within PyTorch's bound");
        Params.View g = p.view("layer2.0.downsample.1.weight"), b = p.view("layer2.0.downsample.1.bias");
        for (int i = 0; i < g.size(); i++) {
            assertEquals(1f, p.data[g.offset() + i]);
            assertEquals(0f, p.data[b.offset() + i]);
        }
        Model cnn = Models.create("resnet18", false, 1000, engine, 3);
        double want = Math.sqrt(2.0 / (512 * 9));
        assertEquals(want, std(cnn.params(), "layer4.1.conv2.weight"), 0.01 * want);
    }

    static double std(Params p, String name) {
        Params.View v = p.view(name);
        double s = 0, ss = 0;
        for (int i = 0; i < v.size(); i++) {
            double x = p.data[v.offset() + i];
            s += x;
            ss += x * x;
        }
        double mean = s / v.size();
        return Math.sqrt(ss / v.size() - mean * mean);
    }

    @Test
    void inputSizes() {
        assertArrayEquals(new int[] {3, 224, 224}, Models.create("resnet18", true, 10, engine, 1).inputShape());
        assertArrayEquals(new int[] {3, 32, 32}, Models.create("resnet20", true, 10, 0, engine, 1).inputShape());
        assertArrayEquals(new int[] {1, 28, 28}, Models.create("lenet5bn", true, 10, 28, engine, 1).inputShape());
        for (int size : new int[] {64, 97, 160}) {
            Model m = Models.create("resnet50", true, 7, size, engine, 1);
            List<Costs.Row> rows = m.describe().rows();
            int last = (((size + 1) / 2 + 1) / 2 + 7) / 8; // conv1 and maxpool round up, then three stride-2 stages
            Costs.Row avg = rows.stream().filter(r -> r.op().equals("avgpool")).findFirst().orElseThrow();
            int before = rows.indexOf(avg) - 1;
            assertEquals(last, rows.get(before).out().h, "resnet50 at " + size + ": last stage side");
            assertEquals(7, rows.get(rows.size() - 1).out().c);
        }
        Model small = Models.create("resnet18", false, 3, 64, 8, engine, 1);
        Tensor logits = small.forward(FiniteDifference.random(new Rng(1), 2, 3, 64, 64), true);
        assertEquals(3, logits.perSample());
        assertThrows(IllegalArgumentException.class, () -> Models.create("resnet20", true, 10, 64, engine, 1));
        assertThrows(IllegalArgumentException.class, () -> Models.create("resnet18", true, 10, 16, engine, 1));
        assertThrows(IllegalArgumentException.class, () -> Models.create("resnet18", true, 1, engine, 1));
    }

    /**
     * Finite differences through a whole ResNet-18 (CNN twin, stem width 4, 64x64 inputs, batch 3): stem, max
     * pool, all four stages with their strided shortcuts, pooling, fc with bias and BN on the logits, along 30
     * random directions of the input and of the parameters. BN biases are shifted so that most ReLU inputs sit
     * away from the kink. Float32 through 20 layers and the max-pool and ReLU kinks that any step crosses leave a
     * floor near 5e-3 here (the single-layer checks reach 1e-4), hence the tolerance 1e-2; a 10% error in the
     * identity-shortcut gradient gives 0.3. Adder layers are not checked this way (see GradientCheckTest).
     */
    @Test
    void tinyResNet18GradientCheck() {
        Model m = Models.create("resnet18", false, 5, 64, 4, engine, 5);
        Params p = m.params();
        Rng rng = new Rng(9);
        for (Params.View v : p.params()) {
            if (v.kind() != Params.Kind.BN_BIAS) continue;
            boolean last = v.name().equals("bn2.bias");
            boolean beforeSum = v.name().matches("layer.*\\.(bn2|downsample\\.1)\\.bias");
            double shift = last ? 0 : beforeSum ? 0.8 : 2;
            for (int i = 0; i < v.size(); i++) p.data[v.offset() + i] += (float) (shift + 0.3 * rng.nextGaussian());
        }
        Layer net = m.net();
        net.setNeedsInputGrad(true);
        FiniteDifference.checkDirections("resnet18 width 4 at 64x64", net, p, FiniteDifference.random(rng, 3, 3, 64, 64), 3e-2, 3e-3,
                1e-2, 30);
    }
}
