package org.addernet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigTest {
    @TempDir
    Path tmp;

    @Test
    void everyKeyIsDocumentedInTheReadme() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        for (Config.Key k : Config.KEYS) assertTrue(readme.contains("| `" + k.name() + "` |"), "README documents " + k.name());
    }

    @Test
    void everyShippedRecipeLoadsAndValidates() throws Exception {
        try (var files = Files.list(Path.of("conf"))) {
            List<Path> recipes = files.filter(p -> p.toString().endsWith(".properties") && !p.getFileName().toString().startsWith("log4j")).toList();
            assertTrue(recipes.size() >= 6, "recipes in conf/: " + recipes);
            for (Path r : recipes) new Recipe(Config.load(r, List.of()));
        }
    }

    @Test
    void errorsNameTheKeyAndTheFile() throws Exception {
        Path f = tmp.resolve("bad.properties");
        Files.writeString(f, "model=lenet5bn\ndataset=mnist\nbatchsize=64\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Config.load(f, List.of()));
        assertTrue(e.getMessage().contains("batchsize") && e.getMessage().contains("bad.properties"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new Recipe(Config.load(null, List.of("model=lenet5bn", "dataset=mnist", "epochs=ten"))));
        assertTrue(e.getMessage().contains("epochs"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Config.load(tmp.resolve("missing.properties"), List.of()));
        assertTrue(e.getMessage().contains("missing.properties"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Config.load(null, List.of("dataset=mnist")));
        assertTrue(e.getMessage().contains("model"), e.getMessage());
        assertEquals("4", Config.load(null, List.of("model=lenet5bn", "dataset=mnist", "spark.task.cpus=4")).sparkSettings().get("spark.task.cpus"));
    }

    @Test
    void anUnknownKeyNamesTheClosestKnownOnes() {
        // The textbook pairs: kitten -> sitting is 3 edits, flaw -> lawn 2; a key one letter off comes first.
        assertEquals(3, Config.editDistance("kitten", "sitting"));
        assertEquals(2, Config.editDistance("flaw", "lawn"));
        assertEquals(0, Config.editDistance("", ""));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Config.load(null, List.of("model=lenet5bn", "dataset=mnist", "epochz=3")));
        assertTrue(e.getMessage().contains("closest known keys: [epochs, "), e.getMessage());
        // One line that stays short however many keys there are (the CLI prints it alone).
        assertTrue(e.getMessage().length() < 200, e.getMessage());
    }
}
