package org.addernet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The launcher's JVM options (conf/jvm-options.txt) and Surefire's argLine (pom.xml) are the same list, and the
 * driver's and executors' extraJavaOptions of conf/spark-defaults.conf hold every one of them.
 */
class JvmOptionsTest {
    static List<String> fileOptions() throws Exception {
        return Files.readAllLines(Path.of("conf/jvm-options.txt")).stream()
                .map(String::trim).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
    }

    @Test
    void sparkDefaultsCarryEveryOption() throws Exception {
        java.util.Properties p = new java.util.Properties();
        try (var in = Files.newBufferedReader(Path.of("conf/spark-defaults.conf"))) {
            p.load(in);
        }
        List<String> file = fileOptions();
        assertTrue(file.contains("-XX:PerMethodTrapLimit=1000"), "conf/jvm-options.txt sets the C2 trap limit");
        int all = file.indexOf("-XX:CompileCommand=CompileThresholdScaling,org.addernet.*::*,0.1");
        int kernels = file.indexOf("-XX:CompileCommand=CompileThresholdScaling,org.addernet.kernels.VectorColumnKernels::*,0.02");
        assertTrue(all >= 0 && kernels > all, "conf/jvm-options.txt scales our code's C2 thresholds, then the kernels' (the later command wins)");
        for (String key : new String[] {"spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"}) {
            String v = p.getProperty(key);
            assertNotNull(v, "conf/spark-defaults.conf lacks " + key);
            List<String> opts = Arrays.stream(v.trim().split("\\s+")).toList();
            for (String o : file) assertTrue(opts.contains(o), key + " lacks " + o);
            assertTrue(opts.indexOf(file.get(kernels)) > opts.indexOf(file.get(all)), key + " must scale the kernels after the rest (the later command wins)");
        }
    }

    @Test
    void launcherAndSurefireAgree() throws Exception {
        List<String> file = fileOptions();
        Matcher m = Pattern.compile("<addernet.jvm.args>([^<]*)</addernet.jvm.args>").matcher(Files.readString(Path.of("pom.xml")));
        if (!m.find()) throw new AssertionError("pom.xml has no addernet.jvm.args property");
        List<String> pom = Arrays.stream(m.group(1).trim().split("\\s+")).toList();
        assertEquals(file, pom);
    }
}
