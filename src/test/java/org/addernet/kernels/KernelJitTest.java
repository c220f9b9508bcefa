package org.addernet.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * How the JVM compiles the Vector API kernels with the options of conf/jvm-options.txt, read from the child JVM's
 * -XX:+PrintCompilation: C1 never compiles them and C2's compiles are blocking (the directive
 * {@link VectorColumnKernels} adds at class load; PrintCompilation's 'b' column), and C2 compiles a kernel within
 * 3,000 calls, which the default thresholds (5,000 invocations) would not do: the CompileThresholdScaling command
 * is what gets C2 code into the first training step. Because the compile blocks the calling thread, what is
 * compiled after N calls does not depend on the machine's load.
 */
class KernelJitTest {
    private static final String SCALING = "-XX:CompileCommand=CompileThresholdScaling,org.addernet.kernels.VectorColumnKernels::*,0.02";
    /** The scaling of all our code (0.1), which also covers the kernels: the control must drop it too. */
    private static final String PACKAGE_SCALING = "-XX:CompileCommand=CompileThresholdScaling,org.addernet.*::*,0.1";
    /** A standard (not OSR) C2 compile of the kernel the probe calls; flag columns %, s, !, b (blocking), n. */
    private static final Pattern C2_BLOCK = Pattern.compile("\\d+ [ %][ s][ !]([ b])[ n] +4 +org\\.addernet\\.kernels\\.VectorColumnKernels::adderForward \\(");
    private static final Pattern C1_ANY = Pattern.compile("\\s[123]\\s+org\\.addernet\\.kernels\\.VectorColumnKernels::");

    static List<String> confOptions() throws Exception {
        return Files.readAllLines(Path.of("conf/jvm-options.txt")).stream().map(String::trim)
                .filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
    }

    static String probe(List<String> options, int calls) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(System.getProperty("java.home") + File.separator + "bin" + File.separator + "java");
        cmd.addAll(options);
        cmd.addAll(List.of("-XX:+PrintCompilation", "-cp", System.getProperty("java.class.path"), JitProbe.class.getName(),
                Integer.toString(calls)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out.length() > 2000 ? out.substring(out.length() - 2000) : out);
        assertTrue(out.contains("probe done"), out);
        return out;
    }

    @Test
    void confOptionsCompileTheKernelsWithC2EarlyAndNeverWithC1() throws Exception {
        List<String> conf = confOptions();
        assertTrue(conf.contains(SCALING), "conf/jvm-options.txt scales the kernels' compile thresholds");
        String out = probe(conf, 3000);
        Matcher m = C2_BLOCK.matcher(out);
        assertTrue(m.find(), "adderForward compiled by C2 within 3000 calls:\n" + tail(out));
        assertEquals("b", m.group(1), "the C2 compile blocks the caller:\n" + tail(out));
        assertFalse(C1_ANY.matcher(out).find(), "a kernel compiled by C1:\n" + tail(out));
        assertTrue(out.contains("C1 excluded true"), "the directive was added");
        assertFalse(out.contains("CompileCommand:"), "'quiet' keeps the command off stdout");
    }

    /** The control: without the scaling the same 3,000 calls stay interpreted, so the test above can fail. */
    @Test
    void withoutTheScalingTheKernelStaysInterpreted() throws Exception {
        List<String> conf = new ArrayList<>(confOptions());
        assertTrue(conf.remove(SCALING) && conf.remove(PACKAGE_SCALING));
        String out = probe(conf, 3000);
        assertFalse(C2_BLOCK.matcher(out).find(), "adderForward compiled by C2 with the default thresholds:\n" + tail(out));
    }

    private static String tail(String s) {
        return s.length() > 3000 ? s.substring(s.length() - 3000) : s;
    }
}
