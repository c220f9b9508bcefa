package org.addernet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.addernet.engine.Engine;
import org.addernet.layers.Costs;
import org.addernet.model.Models;
import org.junit.jupiter.api.Test;

/** {@code summary}: ResNet-20's counts against the 40.81M and the torch-hook fixture, and the printout. */
class SummaryTest {
    static String run(String... args) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        Summary.run(args, new PrintStream(buf, true, StandardCharsets.UTF_8));
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test
    void resnet20Counts() throws IOException {
        Costs cnn, adder;
        try (Engine e = Engine.create(1, "scalar")) {
            cnn = Models.create("resnet20", false, 10, e, 0).describe();
            adder = Models.create("resnet20", true, 10, e, 0).describe();
        }
        long macs = cnn.total(Costs.Row::macs, true);
        assertEquals(40_813_184L, macs);
        assertEquals("40.81M", String.format("%.2fM", macs / 1e6), "the issue's figure for ResNet-20 on 3x32x32");
        assertEquals(macs, cnn.total(Costs.Row::mults, true), "CNN: one multiplication per MAC");
        assertEquals(macs, cnn.total(Costs.Row::adds, true), "CNN: one addition per MAC (no bias in resnet20)");

        // Per layer, the CNN twin's multiplications are the torch-hook MACs of the fixture.
        JsonNode ref;
        try (InputStream in = SummaryTest.class.getResourceAsStream("/models/reference.json")) {
            ref = new ObjectMapper().readTree(in).get("models").get("resnet20").get("variants").get("cnn").get("layers");
        }
        Map<String, Long> refMacs = new HashMap<>();
        for (JsonNode l : ref) if (l.get("type").asText().equals("conv")) refMacs.put(l.get("name").asText(), l.get("macs").asLong());
        int filters = 0;
        for (Costs.Row r : cnn.rows()) {
            if (!r.filter()) continue;
            filters++;
            assertEquals(refMacs.get(r.name()), r.mults(), r.name());
        }
        assertEquals(refMacs.size(), filters);

        // The adder network keeps the multiplications of conv1 and fc only; every other MAC becomes 2 additions.
        long conv1 = 0, fc = 0;
        for (Costs.Row r : adder.rows()) {
            if (!r.filter()) continue;
            if (r.name().equals("conv1")) conv1 = r.mults();
            else if (r.name().equals("fc")) fc = r.mults();
            else assertEquals(0, r.mults(), r.name() + " is an adder layer");
        }
        assertEquals(3 * 16 * 9 * 32 * 32, conv1);
        assertEquals(64 * 10, fc);
        assertEquals(conv1 + fc, adder.total(Costs.Row::mults, true));
        assertEquals(2 * (macs - conv1 - fc) + conv1 + fc, adder.total(Costs.Row::adds, true));
    }

    @Test
    void printsBothVariantsAndEnergy() {
        String out = run("--model", "resnet20", "--input", "3x32x32");
        assertTrue(out.contains("layer1.0.conv1"), out);
        assertTrue(out.contains("adder 3x3/1"), out);
        String total = out.lines().filter(l -> l.startsWith("total, conv/fc layers")).findFirst().orElseThrow();
        String[] f = total.replace("|", " ").trim().split("\\s+");
        // total, conv/fc, layers, params, adder adds, adder muls, cnn adds, cnn muls
        assertEquals("81.18M", f[4], total);
        assertEquals("0.44M", f[5], total);
        assertEquals("40.81M", f[6], total);
        assertEquals("40.81M", f[7], total);
        assertTrue(out.contains("40,813,184 (40.81M)"), out);
        double adderUj = (81_183_360 * 0.9 + 443_008 * 3.7) * 1e-6, cnnUj = 40_813_184 * (0.9 + 3.7) * 1e-6;
        assertTrue(out.contains(String.format(java.util.Locale.ROOT, "conv/fc layers: adder %.1f uJ, cnn %.1f uJ", adderUj, cnnUj)), out);

        String r18 = run("--model", "resnet18", "--classes", "100", "--input", "3x64x64");
        assertTrue(r18.contains("resnet18, input 3x64x64, 100 classes"), r18);
        assertTrue(r18.contains("layer4.1.conv2"), r18);
        assertThrows(IllegalArgumentException.class, () -> run("--model", "resnet20", "--input", "1x32x32"));
        assertThrows(IllegalArgumentException.class, () -> run("--model", "resnet20", "--input", "3x64x64"));
        assertThrows(IllegalArgumentException.class, () -> run("--model", "resnet18", "--input", "3x64x32"));
        assertThrows(IllegalArgumentException.class, () -> run("--bogus", "1"));
    }

    @Test
    void stepBenchReportsThroughputAndHeap() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        StepBench.run(new String[] {"--model", "resnet20", "--variant", "cnn", "--batch", "4", "--steps", "2", "--threads", "1"},
                new PrintStream(buf, true, StandardCharsets.UTF_8));
        String out = buf.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("step 2:") && out.contains("images/s"), out);
        assertTrue(out.contains("activations kept for backward 1,569,064 B per image x 4"), out);
        assertTrue(out.contains("x arithmetic"), out);
    }

    @Test
    void stepBenchProfileRecordsTheLaterStepsAndMeasuresACompiledPeak() {
        // The peak loop once stayed interpreted after the steps and printed 0.0 G-ops/s; compiled it runs at many
        // G-ops/s per core (LayerProfile.MIN_COMPILED_RATE is 1).
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        StepBench.run(new String[] {"--model", "resnet20", "--variant", "adder", "--batch", "2", "--steps", "4", "--threads", "1", "--profile"},
                new PrintStream(buf, true, StandardCharsets.UTF_8));
        String out = buf.toString(StandardCharsets.UTF_8);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("profile over steps (\\d+)-(\\d+) .*measured now: ([0-9.]+) G-ops/s").matcher(out);
        assertTrue(m.find(), out);
        assertTrue(m.group(1).equals("3") && m.group(2).equals("4"), "the second half of 4 steps is recorded: " + m.group());
        assertTrue(Double.parseDouble(m.group(3)) >= LayerProfile.MIN_COMPILED_RATE, "peak of compiled code: " + m.group());
        assertTrue(out.contains("layer1.0.conv1") && out.contains("other = batch norm"), out);
    }
}
