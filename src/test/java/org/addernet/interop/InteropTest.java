package org.addernet.interop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.addernet.engine.Engine;
import org.addernet.engine.Tensor;
import org.addernet.model.Checkpoint;
import org.addernet.model.Model;
import org.addernet.model.Models;
import org.addernet.spark.LoadedCheckpoint;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Import and export against fixtures the official AdderNet code computed ({@code scripts/make-interop-fixtures.py}):
 * the released ResNet-20's logits in float64, a LeNet-5-BN in all three formats, and the SHA-256 of exports that
 * PyTorch loaded. No Python is needed here.
 */
class InteropTest {
    /** Relative L2 error of our float32 eval logits against the official code in float64 (the bound). */
    static final double TOLERANCE = 1e-4;
    static Engine engine;
    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        engine = Engine.create(2, "auto");
    }

    @AfterAll
    static void stop() {
        engine.close();
    }

    static Path resource(String name) {
        try {
            return Path.of(InteropTest.class.getResource("/interop/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static float[] floats(String name) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(resource(name))).order(ByteOrder.LITTLE_ENDIAN);
        float[] r = new float[b.remaining() / 4];
        b.asFloatBuffer().get(r);
        return r;
    }

    static double[] doubles(String name) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(resource(name))).order(ByteOrder.LITTLE_ENDIAN);
        double[] r = new double[b.remaining() / 8];
        b.asDoubleBuffer().get(r);
        return r;
    }

    /** Our eval-mode logits of a checkpoint on a fixture batch. */
    static float[] logits(Checkpoint c, String arch, String inputs) throws IOException {
        Model m = Models.create(arch, true, 10, engine, 99);
        c.restoreInto(m, "test");
        int[] in = m.inputShape();
        float[] x = floats(inputs);
        int n = x.length / (in[0] * in[1] * in[2]);
        return m.forward(new Tensor(n, in[0], in[1], in[2], x), false).data.clone();
    }

    static void assertClose(double[] want, float[] got, int classes) {
        assertEquals(want.length, got.length);
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            num += (got[i] - want[i]) * (got[i] - want[i]);
            den += want[i] * want[i];
        }
        double rel = Math.sqrt(num / den);
        assertTrue(rel <= TOLERANCE, "relative L2 error " + rel + " > " + TOLERANCE);
        for (int s = 0; s < want.length / classes; s++) {
            assertEquals(argmax(want, s * classes, classes), argmax(got, s * classes, classes), "top-1 of sample " + s);
        }
    }

    static int argmax(double[] a, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (a[from + i] > a[from + best]) best = i;
        return best;
    }

    static int argmax(float[] a, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (a[from + i] > a[from + best]) best = i;
        return best;
    }

    static Checkpoint importLenet(String file) throws IOException {
        return Interop.toCheckpoint(TorchFiles.read(resource(file)), "lenet5bn", true, 10, "mnist", Map.of(), file);
    }

    static void assertSameTensors(Checkpoint a, Checkpoint b) {
        assertEquals(a.tensors().keySet(), b.tensors().keySet());
        for (String k : a.tensors().keySet()) {
            assertArrayEquals(a.tensors().get(k).shape(), b.tensors().get(k).shape(), k);
            float[] x = a.tensors().get(k).values(), y = b.tensors().get(k).values();
            assertEquals(x.length, y.length, k);
            for (int i = 0; i < x.length; i++) assertEquals(Float.floatToRawIntBits(x[i]), Float.floatToRawIntBits(y[i]), k + "[" + i + "]");
        }
        assertEquals(a.meta().get("num_batches_tracked"), b.meta().get("num_batches_tracked"));
    }

    static String exportSha(String model) throws IOException {
        for (String line : Files.readAllLines(resource("exports.txt"))) {
            String[] p = line.split(" ");
            if (p[0].equals(model)) return p[1];
        }
        throw new IllegalStateException("no export hash for " + model);
    }

    static String sha256(Path f) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
    }

    @Test
    void releasedResNet20MatchesTheOfficialCodeInFloat64() throws IOException {
        Map<String, TorchTensor> sd = TorchFiles.read(resource("ResNet20-AdderNet.pth"));
        assertEquals(132, sd.size()); // 110 weights and buffers + 22 num_batches_tracked, all under module.
        assertTrue(sd.keySet().stream().allMatch(k -> k.startsWith("module.")));
        Checkpoint c = Interop.toCheckpoint(sd, "resnet20", true, 10, "cifar10", Map.of(), "released");
        assertClose(doubles("resnet20-logits.f64"), logits(c, "resnet20", "resnet20-inputs.f32"), 10);
    }

    @Test
    void exportOfTheReleasedModelIsTheFilePyTorchLoaded() throws Exception {
        Checkpoint c = Interop.toCheckpoint(TorchFiles.read(resource("ResNet20-AdderNet.pth")), "resnet20", true, 10, "cifar10", Map.of(), "r");
        Path ckpt = tmp.resolve("r20.ckpt"), pt = tmp.resolve("r20.pt");
        try (OutputStream o = Files.newOutputStream(ckpt)) {
            c.write(o);
        }
        Interop.exportFile(ckpt, pt);
        assertEquals(exportSha("resnet20"), sha256(pt));
        Checkpoint back = Interop.toCheckpoint(TorchFiles.read(pt), "resnet20", true, 10, "cifar10", Map.of(), "back");
        assertSameTensors(c, back);
    }

    @Test
    void theThreeFormatsHoldTheSameLenetAndItsLogitsMatchPyTorch() throws IOException {
        Checkpoint zip = importLenet("lenet-zip.pt"), legacy = importLenet("lenet-legacy.pt"), st = importLenet("lenet.safetensors");
        assertSameTensors(zip, legacy);
        assertSameTensors(zip, st);
        assertEquals("1234", zip.meta().get("num_batches_tracked"));
        assertClose(doubles("lenet-logits.f64"), logits(zip, "lenet5bn", "lenet-inputs.f32"), 10);
    }

    @Test
    void roundTripsThroughExportAreBitIdentical() throws Exception {
        Checkpoint c = importLenet("lenet-legacy.pt");
        Path ckpt = tmp.resolve("l.ckpt");
        try (OutputStream o = Files.newOutputStream(ckpt)) {
            c.write(o);
        }
        for (String to : List.of("l.pt", "l.safetensors")) {
            Path f = tmp.resolve(to);
            Interop.exportFile(ckpt, f);
            if (to.endsWith(".pt")) assertEquals(exportSha("lenet5bn"), sha256(f)); // the bytes PyTorch loaded
            assertSameTensors(c, Interop.toCheckpoint(TorchFiles.read(f), "lenet5bn", true, 10, "mnist", Map.of(), to));
        }
    }

    @Test
    void checkpointOfTrainedModelExportsAndImportsBack() throws Exception {
        Model m = Models.create("resnet20", false, 10, engine, 5);
        for (int i = 0; i < m.params().buffers.length; i++) m.params().buffers[i] = 0.5f + i * 1e-3f;
        m.setNumBatchesTracked(77);
        float[] momentum = new float[m.params().size()];
        Checkpoint c = Checkpoint.of(m, momentum, Map.of("config.model", "resnet20"));
        Map<String, TorchTensor> sd = Interop.fromCheckpoint(c, "c");
        assertTrue(!sd.containsKey(Checkpoint.MOMENTUM), "no optimizer state in an export");
        assertEquals(77L, sd.get("layer3.2.bn2.num_batches_tracked").longs()[0]);
        List<String> order = List.copyOf(sd.keySet()).subList(0, 6); // PyTorch's state_dict order
        assertEquals(List.of("conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"), order);
        Path f = tmp.resolve("cnn.safetensors");
        TorchFiles.writeSafetensors(f, sd, Map.of());
        Checkpoint back = Interop.toCheckpoint(TorchFiles.read(f), "resnet20", false, 10, "cifar10", Map.of(), "f");
        Map<String, Checkpoint.Entry> without = new LinkedHashMap<>(c.tensors());
        without.remove(Checkpoint.MOMENTUM);
        assertSameTensors(new Checkpoint(c.meta(), without), back);
    }

    @Test
    void importedCheckpointCarriesTheOfficialNormalizationIntoEvaluate() throws Exception {
        Path ckpt = tmp.resolve("r20.ckpt");
        Interop.importFile(resource("ResNet20-AdderNet.pth"), "resnet20", true, 10, "cifar10", null, null, ckpt);
        LoadedCheckpoint l = LoadedCheckpoint.read(ckpt.toString(), null, List.of(), new org.apache.hadoop.conf.Configuration());
        assertEquals("resnet20_adder", l.modelName);
        assertArrayEquals(new float[] {0.4914f, 0.4822f, 0.4465f}, l.recipe.mean);
        assertArrayEquals(new float[] {0.2023f, 0.1994f, 0.2010f}, l.recipe.std);
        LoadedCheckpoint o = LoadedCheckpoint.read(ckpt.toString(), null, List.of("std=0.25,0.25,0.25"), new org.apache.hadoop.conf.Configuration());
        assertArrayEquals(new float[] {0.25f, 0.25f, 0.25f}, o.recipe.std); // told otherwise
    }

    @Test
    void legacyExportsAreTheFilesPyTorchLoadedAndImportBackBitIdentical() throws Exception {
        Checkpoint r20 = Interop.toCheckpoint(TorchFiles.read(resource("ResNet20-AdderNet.pth")), "resnet20", true, 10, "cifar10", Map.of(), "r");
        Checkpoint le = importLenet("lenet-zip.pt");
        for (Object[] m : new Object[][] {{"resnet20", r20, "cifar10", "resnet20-logits.f64", "resnet20-inputs.f32"},
                {"lenet5bn", le, "mnist", "lenet-logits.f64", "lenet-inputs.f32"}}) {
            String arch = (String) m[0];
            Checkpoint c = (Checkpoint) m[1];
            Path ckpt = tmp.resolve(arch + ".ckpt"), pt = tmp.resolve(arch + "-legacy.pt");
            try (OutputStream o = Files.newOutputStream(ckpt)) {
                c.write(o);
            }
            Interop.exportFile(ckpt, pt, "legacy");
            byte[] head = java.util.Arrays.copyOf(Files.readAllBytes(pt), 4);
            assertArrayEquals(new byte[] {(byte) 0x80, 2, (byte) 0x8a, 10}, head, "a pickled long first (the magic number), no zip");
            // The bytes that torch.load(weights_only=True) read into the official model, whose float64 logits were the
            // original's (scripts/make-interop-fixtures.py).
            assertEquals(exportSha(arch + "-legacy"), sha256(pt), arch);
            Checkpoint back = Interop.toCheckpoint(TorchFiles.read(pt), arch, true, 10, (String) m[2], Map.of(), pt.toString());
            assertSameTensors(c, back);
            assertClose(doubles((String) m[3]), logits(back, arch, (String) m[4]), 10);
        }
    }

    @Test
    void ourCheckpointsRoundTripThroughEveryExportFormat() throws Exception {
        for (boolean adder : new boolean[] {true, false}) {
            // A model initialized here, with BN buffers that are not PyTorch's defaults and optimizer state to drop.
            Model m = Models.create("resnet20", adder, 10, engine, 11);
            for (int i = 0; i < m.params().buffers.length; i++) m.params().buffers[i] = 0.25f + i * 1e-3f;
            m.setNumBatchesTracked(391);
            float[] momentum = new float[m.params().size()];
            java.util.Arrays.fill(momentum, 0.5f);
            Checkpoint c = Checkpoint.of(m, momentum, Map.of("config.model", "resnet20"));
            Path ckpt = tmp.resolve("ours.ckpt");
            try (OutputStream o = Files.newOutputStream(ckpt)) {
                c.write(o);
            }
            Map<String, Checkpoint.Entry> without = new LinkedHashMap<>(c.tensors());
            without.remove(Checkpoint.MOMENTUM);
            for (String[] f : new String[][] {{"o-legacy.pt", "legacy"}, {"o-zip.pt", "zip"}, {"o.safetensors", null}}) {
                Path to = tmp.resolve(f[0]);
                Interop.exportFile(ckpt, to, f[1]);
                Checkpoint back = Interop.toCheckpoint(TorchFiles.read(to), "resnet20", adder, 10, "cifar10", Map.of(), f[0]);
                assertSameTensors(new Checkpoint(c.meta(), without), back);
            }
        }
    }

    @Test
    void anExportFormatThatContradictsTheFileNameIsRefused() throws Exception {
        Path ckpt = tmp.resolve("l.ckpt");
        try (OutputStream o = Files.newOutputStream(ckpt)) {
            importLenet("lenet-zip.pt").write(o);
        }
        IllegalArgumentException a = assertThrows(IllegalArgumentException.class, () -> Interop.exportFile(ckpt, tmp.resolve("l.safetensors"), "legacy"));
        assertTrue(a.getMessage().contains("--format legacy") && a.getMessage().contains("l.safetensors"), a.getMessage());
        IllegalArgumentException b = assertThrows(IllegalArgumentException.class, () -> Interop.exportFile(ckpt, tmp.resolve("l.pt"), "safetensors"));
        assertTrue(b.getMessage().contains("l.pt"), b.getMessage());
        IllegalArgumentException u = assertThrows(IllegalArgumentException.class, () -> Interop.exportFile(ckpt, tmp.resolve("l.pt"), "pickle"));
        assertTrue(u.getMessage().contains("'pickle'"), u.getMessage());
        assertTrue(!Files.exists(tmp.resolve("l.pt")) && !Files.exists(tmp.resolve("l.safetensors")), "nothing written");
    }

    // ---- refusals and corrupt files ----

    /** A zip torch.save whose data.pkl is {@code pickle}. */
    Path zipWith(byte[] pickle) throws IOException {
        Path f = tmp.resolve("evil.pt");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(f))) {
            z.putNextEntry(new ZipEntry("archive/data.pkl"));
            z.write(pickle);
            z.closeEntry();
        }
        return f;
    }

    /** {@code module.name(arg)} as protocol-2 pickle: GLOBAL, a string argument, TUPLE1, REDUCE, STOP. */
    static byte[] call(String module, String name, String arg) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0x80);
        b.write(2);
        b.writeBytes(("c" + module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
        byte[] a = arg.getBytes(StandardCharsets.UTF_8);
        b.write('X');
        b.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(a.length).array());
        b.writeBytes(a);
        b.write(0x85);
        b.write('R');
        b.write('.');
        return b.toByteArray();
    }

    @Test
    void picklesNamingOtherGlobalsAreRefusedWithoutRunningThem() throws IOException {
        Path marker = tmp.resolve("ran");
        for (String[] g : new String[][] {{"os", "system"}, {"builtins", "eval"}, {"posix", "system"}, {"subprocess", "Popen"}}) {
            byte[] p = call(g[0], g[1], "touch " + marker);
            IOException e = assertThrows(IOException.class, () -> TorchFiles.read(zipWith(p)));
            assertTrue(e.getMessage().contains("'" + g[0] + "." + g[1] + "'") && e.getMessage().contains("refused"), e.getMessage());
            // The same pickle as the state_dict of a legacy file (after its magic number, protocol and system info).
            Path legacy = tmp.resolve("evil-legacy.pt");
            byte[] released = Files.readAllBytes(resource("lenet-legacy.pt"));
            int stateDictAt = legacyStateDictOffset(released);
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            b.write(released, 0, stateDictAt);
            b.writeBytes(p);
            Files.write(legacy, b.toByteArray());
            IOException l = assertThrows(IOException.class, () -> TorchFiles.read(legacy));
            assertTrue(l.getMessage().contains("'" + g[0] + "." + g[1] + "'"), l.getMessage());
        }
        assertTrue(!Files.exists(marker), "nothing from the file ran");
        IOException op = assertThrows(IOException.class, () -> TorchFiles.read(zipWith(new byte[] {(byte) 0x80, 2, 'i', 'o', 's', '\n'})));
        assertTrue(op.getMessage().contains("opcode 0x69 ('i')"), op.getMessage());
    }

    /** Where the legacy file's fourth pickle starts: after three pickles, each ending at its first STOP at top level. */
    static int legacyStateDictOffset(byte[] f) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN);
        RestrictedUnpickler.PersistentLoader none = pid -> null;
        for (int i = 0; i < 3; i++) new RestrictedUnpickler("f", b, none).load();
        return b.position();
    }

    @Test
    void corruptAndTruncatedFilesGiveAnErrorNamingTheFile() throws IOException {
        byte[] legacy = Files.readAllBytes(resource("lenet-legacy.pt"));
        for (int cut : new int[] {10, 200, legacy.length / 2, legacy.length - 3}) {
            Path f = tmp.resolve("cut" + cut + ".pt");
            Files.write(f, java.util.Arrays.copyOf(legacy, cut));
            IOException e = assertThrows(IOException.class, () -> TorchFiles.read(f));
            assertTrue(e.getMessage().startsWith(f.toString()) && e.getMessage().contains("truncated"), e.getMessage());
        }
        byte[] zip = Files.readAllBytes(resource("lenet-zip.pt"));
        Path cut = tmp.resolve("cut.pt");
        Files.write(cut, java.util.Arrays.copyOf(zip, zip.length - 100));
        IOException z = assertThrows(IOException.class, () -> TorchFiles.read(cut));
        assertTrue(z.getMessage().startsWith(cut.toString()) && z.getMessage().contains("corrupt zip"), z.getMessage());
        // A flipped byte in the middle of the largest storage (fc1's filters): caught by the entry's CRC-32.
        byte[] flipped = zip.clone();
        flipped[zip.length / 2] ^= 0x10;
        Path fz = tmp.resolve("flipped.pt");
        Files.write(fz, flipped);
        IOException c = assertThrows(IOException.class, () -> TorchFiles.read(fz));
        assertTrue(c.getMessage().startsWith(fz.toString()) && c.getMessage().contains("CRC-32"), c.getMessage());
        byte[] st = Files.readAllBytes(resource("lenet.safetensors"));
        Path sc = tmp.resolve("cut.safetensors");
        Files.write(sc, java.util.Arrays.copyOf(st, st.length - 4));
        IOException s = assertThrows(IOException.class, () -> TorchFiles.read(sc));
        assertTrue(s.getMessage().startsWith(sc.toString()) && s.getMessage().contains("truncated"), s.getMessage());
        Path text = tmp.resolve("notes.txt");
        Files.writeString(text, "not a model at all");
        IOException t = assertThrows(IOException.class, () -> TorchFiles.read(text));
        assertTrue(t.getMessage().startsWith(text.toString()) && t.getMessage().contains("not a PyTorch state_dict"), t.getMessage());
    }

    @Test
    void missingUnexpectedAndMisShapedTensorsAreEachNamed() throws IOException {
        Map<String, TorchTensor> sd = new LinkedHashMap<>(TorchFiles.read(resource("lenet.safetensors")));
        sd.remove("bn5.weight");
        sd.put("extra.weight", TorchTensor.ofFloats(new int[] {2}, new float[2]));
        sd.put("fc2.adder", TorchTensor.ofFloats(new int[] {84, 121, 1, 1}, new float[84 * 121]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Interop.toCheckpoint(sd, "lenet5bn", true, 10, "mnist", Map.of(), "m.safetensors"));
        String msg = e.getMessage();
        assertTrue(msg.startsWith("m.safetensors does not fit lenet5bn_adder"), msg);
        assertTrue(msg.contains("missing [bn5.weight]"), msg);
        assertTrue(msg.contains("unexpected [extra.weight]"), msg);
        assertTrue(msg.contains("wrong shape [fc2.adder [84, 121, 1, 1] (model: [84, 120, 1, 1])]"), msg);
        // The released ResNet-20 is no CNN twin: its adder filters are unexpected and the conv weights missing.
        IllegalArgumentException v = assertThrows(IllegalArgumentException.class, () -> Interop.toCheckpoint(
                TorchFiles.read(resource("ResNet20-AdderNet.pth")), "resnet20", false, 10, "cifar10", Map.of(), "r.pth"));
        assertTrue(v.getMessage().contains("missing [layer1.0.conv1.weight,") && v.getMessage().contains("unexpected [layer1.0.conv1.adder,"),
                v.getMessage());
    }

    @Test
    void linearWeightsLoadIntoOneByOneAndFiveByFiveLayers() throws IOException {
        // A plain PyTorch LeNet writes fc1 as nn.Linear(400, 120): [120, 400], the same row-major values as [120, 16, 5, 5].
        Map<String, TorchTensor> sd = new LinkedHashMap<>(TorchFiles.read(resource("lenet.safetensors")));
        TorchTensor fc1 = sd.get("fc1.adder");
        sd.put("fc1.adder", new TorchTensor(fc1.dtype(), new int[] {120, 400}, fc1.values(), null));
        assertSameTensors(importLenet("lenet.safetensors"), Interop.toCheckpoint(sd, "lenet5bn", true, 10, "mnist", Map.of(), "l"));
    }

    @Test
    void safetensorsWhoseHeaderLengthStartsLikeAPickle() throws IOException {
        // Header of 384 = 0x180 bytes: the file's first byte is 0x80, a pickle's PROTO opcode.
        String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        byte[] h = (json + " ".repeat(384 - json.length())).getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).putFloat(1.5f).putFloat(-2f);
        Path f = tmp.resolve("w.safetensors");
        Files.write(f, b.array());
        assertEquals(0x80, Files.readAllBytes(f)[0] & 0xff);
        TorchTensor w = TorchFiles.read(f).get("w");
        assertArrayEquals(new float[] {1.5f, -2f}, w.values());
    }

    @Test
    void halfAndBfloat16DecodeExactly() {
        assertEquals(1.0f, TorchTensor.halfToFloat((short) 0x3c00));
        assertEquals(-2.0f, TorchTensor.halfToFloat((short) 0xc000));
        assertEquals(0x1p-24f, TorchTensor.halfToFloat((short) 0x0001));
        assertEquals(65504f, TorchTensor.halfToFloat((short) 0x7bff));
        assertEquals(Float.POSITIVE_INFINITY, TorchTensor.halfToFloat((short) 0x7c00));
    }

    static byte[] readAll(InputStream in) throws IOException {
        return in.readAllBytes();
    }
}
