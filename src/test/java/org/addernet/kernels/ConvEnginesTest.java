package org.addernet.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.addernet.engine.ThreadPool;
import org.junit.jupiter.api.Test;

/** Kernel selection: kinds, the system property, and the scalar path on a JVM without the Vector API. */
class ConvEnginesTest {
    @Test
    void kinds() {
        try (ThreadPool pool = new ThreadPool(1)) {
            assertTrue(ConvEngines.vectorAvailable(), "tests run with --add-modules=jdk.incubator.vector");
            assertTrue(ConvEngines.create(pool, "vector").kernelName().startsWith("vector-"));
            assertTrue(ConvEngines.create(pool, "auto").kernelName().startsWith("vector-"));
            assertTrue(ConvEngines.create(pool, null).kernelName().startsWith("vector-"));
            assertEquals("scalar", ConvEngines.create(pool, "scalar").kernelName());
            assertThrows(IllegalArgumentException.class, () -> ConvEngines.create(pool, "gpu"));
        }
    }

    @Test
    void autoHonoursTheSystemProperty() {
        String old = System.getProperty(ConvEngines.PROPERTY);
        try (ThreadPool pool = new ThreadPool(1)) {
            System.setProperty(ConvEngines.PROPERTY, "scalar");
            assertEquals("scalar", ConvEngines.create(pool, "auto").kernelName());
            assertTrue(ConvEngines.create(pool, "vector").kernelName().startsWith("vector-"), "explicit kind wins");
        } finally {
            if (old == null) System.clearProperty(ConvEngines.PROPERTY);
            else System.setProperty(ConvEngines.PROPERTY, old);
        }
    }

    /** Without the module, auto falls back to scalar without loading any Vector API class, and vector fails clearly. */
    @Test
    void scalarPathWithoutTheVectorModule() throws Exception {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        Process p = new ProcessBuilder(List.of(java, "-Xlog:class+load=info", "-cp", System.getProperty("java.class.path"),
                ScalarOnlyProbe.class.getName())).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out.length() > 2000 ? out.substring(out.length() - 2000) : out);
        assertTrue(out.contains("auto=scalar"), "auto picked scalar");
        assertTrue(out.contains("vector=failed") && out.contains("--add-modules=jdk.incubator.vector"), "clear message");
        assertFalse(out.contains("VectorColumnKernels"), "vector kernels class loaded");
        assertFalse(out.contains("jdk.incubator.vector.FloatVector"), "Vector API loaded");
    }
}
