package org.addernet.cli;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * CPU time of this JVM's threads by kind, and its page faults, from Linux's /proc/self (empty elsewhere): what a step
 * of {@code bench-step --mark-steps} spent in the compute threads against the JIT compilers and the garbage
 * collector, which share the same cores. Clock ticks (10 ms); the kinds come from the kernel's thread names.
 */
final class ThreadCpu {
    private ThreadCpu() {}

    /** Kind of a thread by its (15-character) kernel name. */
    static String kind(String comm) {
        if (comm.startsWith("C2 Compiler")) return "c2";
        if (comm.startsWith("C1 Compiler")) return "c1";
        if (comm.startsWith("GC Thread") || comm.startsWith("G1 ")) return "gc";
        if (comm.startsWith("addernet-engine") || comm.equals("main") || comm.equals("java")) return "compute";
        return "other";
    }

    /** Milliseconds of user+system CPU per kind, then "minflt" and "majflt" of the whole process; empty if unreadable. */
    static Map<String, Long> sample() {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String k : new String[] {"compute", "c2", "c1", "gc", "other"}) out.put(k, 0L);
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path t : tasks) {
                String[] f = fields(t.resolve("stat"));
                if (f == null) continue; // the thread ended meanwhile
                out.merge(kind(f[0]), ticksMs(f[12]) + ticksMs(f[13]), Long::sum);
            }
            String[] p = fields(Path.of("/proc/self/stat"));
            if (p == null) return Map.of();
            out.put("minflt", Long.parseLong(p[8]));
            out.put("majflt", Long.parseLong(p[10]));
        } catch (IOException | RuntimeException e) {
            return Map.of();
        }
        return out;
    }

    /** The thread's name, then the fields after it (stat's field 3 is at index 1), or null if gone. */
    private static String[] fields(Path stat) {
        String s;
        try {
            s = Files.readString(stat);
        } catch (IOException e) {
            return null;
        }
        int open = s.indexOf('('), close = s.lastIndexOf(')');
        String[] rest = s.substring(close + 2).trim().split(" ");
        String[] f = new String[rest.length + 1];
        f[0] = s.substring(open + 1, close);
        System.arraycopy(rest, 0, f, 1, rest.length);
        return f;
    }

    private static long ticksMs(String ticks) {
        return Long.parseLong(ticks) * 10; // USER_HZ is 100 on Linux
    }
}
