package org.addernet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code bench-step --mark-steps}: one begin and one end line per step on stderr, in step order, with clocks that
 * never run backwards (scripts/jit-timeline attributes compiles to steps by them); nothing on stdout, and nothing
 * at all without the option.
 */
class StepBenchMarksTest {
    private static final Pattern MARK = Pattern.compile("jit-mark step (\\d+) (begin|end) (\\d+) cpu (-?\\d+) thread-cpu (-?\\d+)");

    static String[] run(boolean marks) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        PrintStream oldErr = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            List<String> args = new ArrayList<>(List.of("--model", "lenet5bn", "--batch", "2", "--steps", "3", "--threads", "1"));
            if (marks) args.add("--mark-steps");
            StepBench.run(args.toArray(String[]::new), new PrintStream(out, true, StandardCharsets.UTF_8));
        } finally {
            System.setErr(oldErr);
        }
        return new String[] {out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)};
    }

    @Test
    void marksEveryStepInOrder() {
        String[] r = run(true);
        assertFalse(r[0].contains("jit-mark"), "marks go to stderr only");
        Matcher m = MARK.matcher(r[1]);
        List<String> seen = new ArrayList<>();
        long lastUptime = -1, lastCpu = -1, lastThread = -1;
        while (m.find()) {
            seen.add(m.group(1) + " " + m.group(2));
            long uptime = Long.parseLong(m.group(3)), cpu = Long.parseLong(m.group(4)), thread = Long.parseLong(m.group(5));
            assertTrue(uptime >= lastUptime && cpu >= lastCpu && thread >= lastThread, r[1]);
            lastUptime = uptime;
            lastCpu = cpu;
            lastThread = thread;
        }
        assertEquals(List.of("1 begin", "1 end", "2 begin", "2 end", "3 begin", "3 end"), seen);
        assertTrue(lastCpu >= 0 && lastThread >= 0, "CPU times are reported on this JVM: " + r[1]);
        if (new java.io.File("/proc/self/task").isDirectory()) {
            assertTrue(Pattern.compile("end \\d+ cpu \\d+ thread-cpu \\d+ kinds compute=\\d+ c2=\\d+ c1=\\d+ gc=\\d+ other=\\d+ minflt=\\d+ majflt=\\d+")
                    .matcher(r[1]).find(), "Linux: per-kind thread CPU and page faults on the marks: " + r[1]);
        }
    }

    @Test
    void noMarksWithoutTheOption() {
        String[] r = run(false);
        assertFalse(r[0].contains("jit-mark") || r[1].contains("jit-mark"), r[1]);
        assertTrue(r[0].contains("step 3:"), r[0]);
    }
}
