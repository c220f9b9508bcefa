package org.addernet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.addernet.data.SyntheticImageNet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PipelineBenchTest {
    @Test
    void printsAJsonRowPerPhaseAndThreadCount(@TempDir Path tmp) throws Exception {
        SyntheticImageNet.generate(tmp, 2, 3, 0, 5);
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        PipelineBench.run(new String[] {"--root", tmp.toString(), "--threads", "2", "--images", "4", "--reps", "1",
            "--size", "32", "--resize", "36", "--batch", "3"}, new PrintStream(bos, true, StandardCharsets.UTF_8));
        List<String> lines = bos.toString(StandardCharsets.UTF_8).lines().toList();
        List<String> rows = lines.stream().filter(l -> l.startsWith("{\"bench\":\"pipeline\"")).toList();
        assertEquals(9, rows.size(), String.join("\n", lines)); // 4 phases x {1, 2} threads + the fresh-reader row
        for (String phase : new String[] {"read", "decode", "decode+train", "decode+eval"}) {
            for (int t : new int[] {1, 2}) {
                String key = "\"phase\":\"" + phase + "\",\"threads\":" + t + ",\"images\":4,";
                assertTrue(rows.stream().anyMatch(r -> r.contains(key)), key + " in\n" + String.join("\n", rows));
            }
        }
        assertTrue(lines.get(0).contains("\"images\":4,\"classes\":2"), lines.get(0));
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("# decode+train")), "table");
    }
}
