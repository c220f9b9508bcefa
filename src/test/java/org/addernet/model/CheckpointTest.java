package org.addernet.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.addernet.engine.Engine;
import org.addernet.train.RunFiles;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    static Engine engine;
    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        engine = Engine.create(1, "scalar");
    }

    @AfterAll
    static void stop() {
        engine.close();
    }

    static Checkpoint sample(Model m) {
        float[] mom = new float[m.params().size()];
        for (int i = 0; i < mom.length; i++) mom[i] = i * 0.25f;
        for (int i = 0; i < m.params().buffers.length; i++) m.params().buffers[i] = -i;
        m.setNumBatchesTracked(1234);
        return Checkpoint.of(m, mom, Map.of("epoch", "3", "config.lr", "0.1"));
    }

    static void write(Checkpoint c, Path f) throws IOException {
        RunFiles.local(f.getParent()).writeAtomic(f.getFileName().toString(), c::write);
    }

    static Checkpoint read(Path f) throws IOException {
        RunFiles files = RunFiles.local(f.getParent());
        String name = f.getFileName().toString();
        try (var in = files.open(name)) {
            return Checkpoint.read(in, files.describe(name));
        }
    }

    @Test
    void roundTripRestoresEverything() throws IOException {
        Model a = Models.create("resnet20", true, 10, engine, 1);
        Checkpoint c = sample(a);
        Path f = tmp.resolve("c.ckpt");
        write(c, f);
        Model b = Models.create("resnet20", true, 10, engine, 2);
        assertTrue(!Arrays.equals(a.params().data, b.params().data));
        Checkpoint r = read(f);
        r.restoreInto(b, f.toString());
        assertArrayEquals(a.params().data, b.params().data);
        assertArrayEquals(a.params().buffers, b.params().buffers);
        assertEquals(1234, b.numBatchesTracked());
        assertEquals("3", r.meta().get("epoch"));
        assertEquals("0.1", r.meta().get("config.lr"));
        assertEquals("resnet20_adder", r.meta().get("model"));
        assertArrayEquals(c.tensors().get(Checkpoint.MOMENTUM).values(), r.tensors().get(Checkpoint.MOMENTUM).values());
        assertTrue(r.tensors().containsKey("layer2.0.downsample.0.adder"));
        try (var s = Files.list(tmp)) {
            assertEquals(1, s.count(), "no temporary file left behind");
        }
    }

    @Test
    void corruptionIsDetectedAndNamed() throws IOException {
        Model a = Models.create("lenet5bn", true, 10, engine, 1);
        Path f = tmp.resolve("ok.ckpt");
        write(sample(a), f);
        byte[] good = Files.readAllBytes(f);

        byte[] flipped = good.clone();
        flipped[good.length / 2] ^= 0x10;
        Path bad = tmp.resolve("flipped.ckpt");
        Files.write(bad, flipped);
        IOException e = assertThrows(IOException.class, () -> read(bad));
        assertTrue(e.getMessage().contains("flipped.ckpt") && e.getMessage().contains("checksum"), e.getMessage());

        Path cut = tmp.resolve("cut.ckpt");
        Files.write(cut, Arrays.copyOf(good, good.length - 100));
        e = assertThrows(IOException.class, () -> read(cut));
        assertTrue(e.getMessage().contains("cut.ckpt") && e.getMessage().contains("truncated"), e.getMessage());

        Path notOurs = tmp.resolve("other.bin");
        Files.write(notOurs, "PK\3\4 definitely a zip".getBytes());
        e = assertThrows(IOException.class, () -> read(notOurs));
        assertTrue(e.getMessage().contains("other.bin") && e.getMessage().contains("magic"), e.getMessage());

        e = assertThrows(IOException.class, () -> read(tmp.resolve("missing.ckpt")));
        assertTrue(e.getMessage().contains("missing.ckpt"), e.getMessage());
    }

    @Test
    void wrongModelIsRefused() throws IOException {
        Path f = tmp.resolve("lenet.ckpt");
        write(sample(Models.create("lenet5bn", true, 10, engine, 1)), f);
        Model cnn = Models.create("lenet5bn", false, 10, engine, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> read(f).restoreInto(cnn, f.toString()));
        assertTrue(e.getMessage().contains("lenet5bn_adder"), e.getMessage());
    }
}
