package org.addernet.golden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.engine.Tensor;
import org.addernet.kernels.ConvGeometry;
import org.addernet.layers.SoftmaxCrossEntropy;
import org.addernet.model.Model;
import org.addernet.model.Models;
import org.addernet.train.Sgd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every golden case (computed in float64 by an independent PyTorch reference, see golden/README.md) against
 * the engine, once with the Vector API kernels and once with the scalar fallback. Cases come from the test
 * resources and, when the system property {@code golden.dir} names a folder, from every {@code *.json} /
 * {@code *.json.gz} below it; a case's kind is told by its keys. Tolerances are the README's and never loosened:
 * relative L2 error 1e-5 for a single op; for a training step max(1e-4, 1.25 x the worst error PyTorch itself
 * reaches in float32 on that case), from {@code f32_reference.json} (a copy of the golden set's file; a case it
 * does not list keeps 1e-4). Each case prints its margin: worst error / bound.
 */
class GoldenTest {
    static final double OP_TOL = 1e-5;
    static final double STEP_TOL = 1e-4;
    /** The train-step bound is this factor times PyTorch's own float32 error on the case, when that is larger. */
    static final double F32_FACTOR = 1.25;
    static final String F32_REFERENCE = "f32_reference.json";
    static final String[] KERNELS = {"vector", "scalar"};
    static final ObjectMapper JSON = new ObjectMapper();
    static final List<Engine> ENGINES = new ArrayList<>();

    @AfterAll
    static void closeEngines() {
        ENGINES.forEach(Engine::close);
    }

    static Engine engine(String kernels) {
        Engine e = Engine.create(2, kernels);
        ENGINES.add(e);
        return e;
    }

    @TestFactory
    Stream<DynamicTest> goldenCases() throws IOException, URISyntaxException {
        List<Path> files = new ArrayList<>();
        URL res = GoldenTest.class.getResource("/golden");
        if (res == null) fail("test resources lack the golden/ folder");
        files.addAll(caseFiles(Path.of(res.toURI())));
        String extra = System.getProperty("golden.dir", "");
        if (!extra.isBlank()) {
            Path dir = Path.of(extra);
            if (!Files.isDirectory(dir)) fail("golden.dir=" + extra + " is not a directory");
            List<Path> more = caseFiles(dir);
            if (more.isEmpty()) fail("golden.dir=" + extra + " holds no *.json or *.json.gz case");
            files.addAll(more);
        }
        List<DynamicTest> tests = new ArrayList<>();
        for (Path f : files) {
            for (String k : KERNELS) {
                String name = caseName(f);
                tests.add(DynamicTest.dynamicTest(name + " [" + k + "] (" + f.getFileName() + ")", f.toUri(), () -> runCase(f, k)));
            }
        }
        assertTrue(tests.size() >= 2 * 9, "expected the 9 shipped golden cases, found " + tests.size() / 2);
        return tests.stream();
    }

    static List<Path> caseFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile)
                    .filter(p -> !p.getFileName().toString().equals(F32_REFERENCE))
                    .filter(p -> p.toString().endsWith(".json") || p.toString().endsWith(".json.gz"))
                    .sorted().toList();
        }
    }

    static String caseName(Path f) {
        return f.getFileName().toString().replaceAll("\\.json(\\.gz)?$", "");
    }

    static JsonNode readJson(Path f) {
        try (InputStream raw = Files.newInputStream(f);
             InputStream in = f.toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw) {
            return JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read golden case " + f, e);
        }
    }

    static void runCase(Path f, String kernels) throws IOException, URISyntaxException {
        JsonNode c = readJson(f);
        String name = c.has("name") ? c.get("name").asText() : caseName(f);
        if (c.has("steps") && c.has("init_state")) runTrainStep(name, c, kernels);
        else if (c.has("dw_raw") && c.has("w") && c.has("x")) runAdder2d(name, c, kernels);
        else fail(f + ": neither an adder2d case (x, w, dy, y, dx, dw_raw, dw) nor a train_step case (init_state, steps)");
    }

    // ---------------------------------------------------------------- adder2d

    static void runAdder2d(String name, JsonNode c, String kernels) {
        Engine engine = engine(kernels);
        Tensorish x = tensor(c.get("x")), w = tensor(c.get("w")), dy = tensor(c.get("dy"));
        int stride = c.get("stride").asInt(), pad = c.get("padding").asInt();
        double eta = c.get("eta").asDouble();
        ConvGeometry g = new ConvGeometry(x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0], w.shape[2], stride, pad);
        assertEquals(w.shape[2], w.shape[3], "square kernels only");
        float[] y = new float[g.outputSize()];
        float[] dx = new float[g.inputSize()];
        // Filters and their gradient sit at an offset inside larger buffers, as they do in a model.
        int off = 7;
        float[] wBuf = new float[off + w.data.length + 5];
        System.arraycopy(w.data, 0, wBuf, off, w.data.length);
        float[] dwBuf = new float[wBuf.length];
        engine.conv().adderForward(g, x.data, wBuf, off, y);
        engine.conv().adderBackward(g, x.data, wBuf, off, dy.data, dx, dwBuf, off);
        float[] dwRaw = java.util.Arrays.copyOfRange(dwBuf, off, off + w.data.length);
        // The adaptive scaling is the optimizer's, run on a one-parameter model of this filter.
        Params.Builder pb = new Params.Builder();
        int o = pb.add("w.adder", Params.Kind.ADDER, w.shape);
        Params p = pb.build();
        System.arraycopy(dwRaw, 0, p.grad, o, dwRaw.length);
        Sgd.scaleAdderGradients(p, eta);
        Report r = new Report(name, kernels);
        r.check("y", y, c.get("y"), OP_TOL);
        r.check("dx", dx, c.get("dx"), OP_TOL);
        r.check("dw_raw", dwRaw, c.get("dw_raw"), OP_TOL);
        r.check("dw", p.grad, c.get("dw"), OP_TOL);
        r.finish();
    }

    // ---------------------------------------------------------------- train_step

    /**
     * The train-step bound of case {@code name}: max(1e-4, 1.25 x PyTorch's float32 error) from the resources'
     * {@code f32_reference.json} and, if {@code golden.dir} holds one, from that one too (the larger error wins).
     */
    static double stepBound(String name) throws IOException, URISyntaxException {
        double worst = 0;
        List<Path> refs = new ArrayList<>();
        URL res = GoldenTest.class.getResource("/golden/" + F32_REFERENCE);
        if (res == null) fail("test resources lack golden/" + F32_REFERENCE);
        refs.add(Path.of(res.toURI()));
        String extra = System.getProperty("golden.dir", "");
        if (!extra.isBlank() && Files.isRegularFile(Path.of(extra, F32_REFERENCE))) refs.add(Path.of(extra, F32_REFERENCE));
        for (Path f : refs) {
            JsonNode cases = readJson(f).get("cases");
            if (cases == null) fail(f + " has no 'cases' object");
            JsonNode e = cases.get(name);
            if (e != null) worst = Math.max(worst, e.get("worst_rel_error").asDouble());
        }
        return Math.max(STEP_TOL, F32_FACTOR * worst);
    }

    static void runTrainStep(String name, JsonNode c, String kernels) throws IOException, URISyntaxException {
        double bound = stepBound(name);
        Engine engine = engine(kernels);
        String[] parts = name.split("_");
        String arch = parts[0];
        boolean adder = parts[1].equals("adder");
        JsonNode init = c.get("init_state");
        int classes = classesOf(arch, init);
        Model m = Models.create(arch, adder, classes, engine, 1);
        loadState(m, init, name);
        JsonNode hyper = c.get("hyper");
        assertEquals(1e-5, hyper.get("bn_eps").asDouble(), 0, "engine BN eps is 1e-5");
        assertEquals(0.1, hyper.get("bn_momentum").asDouble(), 0, "engine BN momentum is 0.1");
        Sgd sgd = new Sgd(m.params().size(), hyper.get("momentum").asDouble(), hyper.get("weight_decay").asDouble(),
                hyper.get("nesterov").asBoolean(), hyper.get("eta").asDouble());
        double lr = hyper.get("lr").asDouble();
        Report r = new Report(name, kernels);
        System.out.printf("golden %s [%s]: train-step bound %.3e%n", name, kernels, bound);
        int s = 0;
        for (JsonNode step : c.get("steps")) {
            String pre = "step" + s + ".";
            Tensorish xs = tensor(step.get("x"));
            int[] labels = new int[step.get("labels").size()];
            for (int i = 0; i < labels.length; i++) labels[i] = step.get("labels").get(i).asInt();
            Tensor x = new Tensor(xs.shape[0], xs.shape[1], xs.shape[2], xs.shape[3], xs.data);
            m.params().zeroGrad();
            SoftmaxCrossEntropy.Result res = m.trainShard(x, labels, 1f / labels.length);
            r.checkScalar(pre + "loss", res.lossSum() / labels.length, step.get("loss").asDouble(), bound);
            r.check(pre + "logits", lastLogits(m), step.get("logits"), bound);
            sgd.step(m.params(), lr);
            m.setNumBatchesTracked(m.numBatchesTracked() + 1);
            for (Iterator<Map.Entry<String, JsonNode>> it = step.get("grads").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                Params.View v = m.params().view(e.getKey());
                r.check(pre + "grad." + e.getKey(), slice(m.params().grad, v), e.getValue(), bound);
            }
            assertEquals(m.params().params().size(), step.get("grads").size(), name + ": every parameter has a golden gradient");
            for (Iterator<Map.Entry<String, JsonNode>> it = step.get("state_after").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String key = e.getKey();
                if (key.endsWith(".num_batches_tracked")) {
                    assertEquals(tensor(e.getValue()).data[0], (float) m.numBatchesTracked(), name + " " + key);
                    continue;
                }
                Params.View v = m.params().view(key);
                r.check(pre + "state." + key, slice(m.params().arrayOf(v), v), e.getValue(), bound);
            }
            s++;
        }
        assertEquals(2, s, "two steps per case");
        JsonNode ev = c.get("eval");
        Tensorish xe = tensor(ev.get("x"));
        Tensor logits = m.forward(new Tensor(xe.shape[0], xe.shape[1], xe.shape[2], xe.shape[3], xe.data), false);
        r.check("eval.logits", java.util.Arrays.copyOf(logits.data, logits.size()), ev.get("logits"), bound);
        r.finish();
    }

    static float[] lastLogits(Model m) {
        Tensor t = m.lastLogits();
        return java.util.Arrays.copyOf(t.data, t.size());
    }

    static int classesOf(String arch, JsonNode init) {
        String key = arch.equals("lenet5bn") ? "bn5.weight" : "bn2.weight";
        return init.get(key).get("shape").get(0).asInt();
    }

    static void loadState(Model m, JsonNode init, String name) {
        int loaded = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = init.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Tensorish t = tensor(e.getValue());
            if (e.getKey().endsWith(".num_batches_tracked")) {
                m.setNumBatchesTracked((long) t.data[0]);
                continue;
            }
            Params.View v = m.params().view(e.getKey());
            assertEquals(v.size(), t.data.length, name + ": size of " + e.getKey());
            assertTrue(java.util.Arrays.equals(v.shape(), t.shape), name + ": shape of " + e.getKey());
            System.arraycopy(t.data, 0, m.params().arrayOf(v), v.offset(), v.size());
            loaded++;
        }
        assertEquals(m.params().params().size() + m.params().bufferViews().size(), loaded,
                name + ": golden init_state must cover every parameter and buffer of the model");
    }

    static float[] slice(float[] a, Params.View v) {
        return java.util.Arrays.copyOfRange(a, v.offset(), v.offset() + v.size());
    }

    // ---------------------------------------------------------------- helpers

    record Tensorish(int[] shape, float[] data) {}

    static Tensorish tensor(JsonNode node) {
        JsonNode sh = node.get("shape"), d = node.get("data");
        int[] shape = new int[sh.size()];
        long n = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = sh.get(i).asInt();
            n *= shape[i];
        }
        assertEquals(n, d.size(), "golden tensor data length matches its shape");
        float[] data = new float[d.size()];
        for (int i = 0; i < data.length; i++) data[i] = (float) d.get(i).asDouble();
        return new Tensorish(shape, data);
    }

    /** Collects the relative error of every compared tensor, prints one line, then fails on the worst. */
    static final class Report {
        final String name, kernels;
        final StringBuilder line = new StringBuilder();
        final List<String> failures = new ArrayList<>();
        double margin = 0;
        String worst = "";

        Report(String name, String kernels) {
            this.name = name;
            this.kernels = kernels;
        }

        void check(String what, float[] out, JsonNode refNode, double tol) {
            double[] ref = new double[refNode.get("data").size()];
            for (int i = 0; i < ref.length; i++) ref[i] = refNode.get("data").get(i).asDouble();
            if (ref.length != out.length) {
                failures.add(what + ": " + out.length + " values, reference has " + ref.length);
                return;
            }
            double num = 0, den = 0;
            for (int i = 0; i < ref.length; i++) {
                double d = out[i] - ref[i];
                num += d * d;
                den += ref[i] * ref[i];
            }
            record(what, den == 0 ? Math.sqrt(num) : Math.sqrt(num / den), tol);
        }

        void checkScalar(String what, double out, double ref, double tol) {
            record(what, Math.abs(out - ref) / Math.max(Math.abs(ref), 1e-30), tol);
        }

        private void record(String what, double rel, double tol) {
            line.append(' ').append(what).append('=').append(String.format("%.3e", rel));
            if (!(rel / tol <= margin)) {
                margin = rel / tol;
                worst = what;
            }
            if (!(rel <= tol)) failures.add(what + " rel err " + rel + " > " + tol);
        }

        void finish() {
            System.out.println("golden " + name + " [" + kernels + "]" + line);
            System.out.printf("golden %s [%s]: margin %.3f (worst %s; error / bound, must be <= 1)%n", name, kernels, margin, worst);
            if (!failures.isEmpty()) fail(name + " [" + kernels + "]: " + String.join("; ", failures));
        }
    }
}
