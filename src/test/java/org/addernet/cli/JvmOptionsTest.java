package org.addernet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The launcher's JVM options (conf/jvm-options.txt) and Surefire's argLine (pom.xml) are the same list. */
class JvmOptionsTest {
    @Test
    void launcherAndSurefireAgree() throws Exception {
        List<String> file = Files.readAllLines(Path.of("conf/jvm-options.txt")).stream()
                .map(String::trim).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
        Matcher m = Pattern.compile("<addernet.jvm.args>([^<]*)</addernet.jvm.args>").matcher(Files.readString(Path.of("pom.xml")));
        if (!m.find()) throw new AssertionError("pom.xml has no addernet.jvm.args property");
        List<String> pom = Arrays.stream(m.group(1).trim().split("\\s+")).toList();
        assertEquals(file, pom);
    }
}
