package org.addernet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.addernet.interop.TorchFiles;
import org.addernet.interop.TorchTensor;
import org.addernet.model.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code addernet import} and {@code export} as the command line runs them. */
class InteropCommandsTest {
    @TempDir
    Path tmp;

    @Test
    void importThenExportThroughTheCommandLine() throws Exception {
        Path released = Path.of(InteropCommandsTest.class.getResource("/interop/ResNet20-AdderNet.pth").toURI());
        Path ckpt = tmp.resolve("r20.ckpt"), st = tmp.resolve("r20.safetensors");
        assertEquals(0, Main.run(new String[] {"import", "--from", released.toString(), "--model", "resnet20", "--out", ckpt.toString()}));
        Checkpoint c;
        try (InputStream in = Files.newInputStream(ckpt)) {
            c = Checkpoint.read(in, "r20");
        }
        assertEquals("resnet20_adder", c.meta().get("model"));
        assertEquals("cifar10", c.meta().get("config.dataset"));
        assertEquals("0.2023,0.1994,0.2010", c.meta().get("config.std"));
        assertTrue(!c.tensors().containsKey(Checkpoint.MOMENTUM), "no optimizer state");
        assertEquals(0, Main.run(new String[] {"export", "--checkpoint", ckpt.toString(), "--to", st.toString()}));
        Map<String, TorchTensor> back = TorchFiles.read(st);
        assertEquals(132, back.size());
        assertEquals(c.tensors().get("layer2.0.conv1.adder").values()[5], back.get("layer2.0.conv1.adder").values()[5]);
        Path legacy = tmp.resolve("r20-legacy.pt");
        assertEquals(0, Main.run(new String[] {"export", "--checkpoint", ckpt.toString(), "--to", legacy.toString(), "--format", "legacy"}));
        assertEquals(0x80, Files.readAllBytes(legacy)[0] & 0xff); // a pickle, not a zip ("PK")
        Map<String, TorchTensor> fromLegacy = TorchFiles.read(legacy);
        assertEquals(back.keySet(), fromLegacy.keySet());
        assertEquals(Float.floatToRawIntBits(back.get("fc.weight").values()[7]), Float.floatToRawIntBits(fromLegacy.get("fc.weight").values()[7]));
    }

    @Test
    void badArgumentsNameTheOption() {
        IllegalArgumentException m = assertThrows(IllegalArgumentException.class,
                () -> Main.run(new String[] {"import", "--from", "x.pt", "--model", "resnet21", "--out", "y"}));
        assertTrue(m.getMessage().contains("unknown model 'resnet21'"), m.getMessage());
        IllegalArgumentException v = assertThrows(IllegalArgumentException.class,
                () -> Main.run(new String[] {"import", "--from", "x.pt", "--model", "resnet20", "--variant", "mul", "--out", "y"}));
        assertTrue(v.getMessage().contains("--variant"), v.getMessage());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Main.run(new String[] {"export", "--to", "a.pt"}));
        assertTrue(e.getMessage().contains("export needs --checkpoint"), e.getMessage());
    }
}
