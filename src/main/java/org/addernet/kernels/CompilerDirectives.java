package org.addernet.kernels;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.management.ObjectName;

/**
 * HotSpot compiler directives added while the JVM runs (the DiagnosticCommand MBean's {@code compilerDirectivesAdd},
 * which reads them from a file): how the Vector API kernels and the profile's peak loop are kept from C1, whose code
 * boxes every vector. No start-up flag needed, so the same holds under spark-submit.
 */
public final class CompilerDirectives {
    private CompilerDirectives() {}

    /**
     * Adds one directive ({@code json}: {@code [{ match: [...], c1: {...}, ... }]}); false if the JVM did not take it
     * (e.g. without the java.management module, or another JVM than HotSpot).
     */
    public static boolean add(String json) {
        try {
            Path f = Files.createTempFile("addernet-directive", ".json");
            try {
                Files.writeString(f, json);
                Object r = ManagementFactory.getPlatformMBeanServer().invoke(new ObjectName("com.sun.management:type=DiagnosticCommand"),
                        "compilerDirectivesAdd", new Object[] {new String[] {f.toString()}}, new String[] {String[].class.getName()});
                return String.valueOf(r).contains("1 compiler directives added");
            } finally {
                Files.deleteIfExists(f);
            }
        } catch (Exception | LinkageError e) {
            return false;
        }
    }
}
