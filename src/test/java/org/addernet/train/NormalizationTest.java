package org.addernet.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The {@code mean}/{@code std} keys: the dataset's defaults, the CIFAR recipes' official values, bad values. */
class NormalizationTest {
    @org.junit.jupiter.api.io.TempDir
    Path tmp;

    @Test
    void emptyMeansTheDatasetsDefaults() {
        Recipe r = new Recipe(Config.load(null, List.of("model=lenet5bn", "dataset=mnist")));
        assertArrayEquals(new float[] {0.1307f}, r.mean);
        assertArrayEquals(new float[] {0.3081f}, r.std);
        Recipe i = new Recipe(Config.load(null, List.of("model=resnet18", "dataset=imagenet")));
        assertArrayEquals(new float[] {0.485f, 0.456f, 0.406f}, i.mean);
    }

    @Test
    void cifarRecipesUseTheOfficialCodesValues() {
        for (String recipe : List.of("resnet20-cifar10", "resnet32-cifar10", "resnet56-cifar10", "resnet20-cifar100")) {
            Recipe r = new Recipe(Config.load(Path.of("conf", recipe + ".properties"), List.of()));
            // torchvision's Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)) in the official main.py
            assertArrayEquals(new float[] {0.4914f, 0.4822f, 0.4465f}, r.mean, recipe);
            assertArrayEquals(new float[] {0.2023f, 0.1994f, 0.2010f}, r.std, recipe);
        }
    }

    @Test
    void valuesRoundTripThroughTheirText() {
        float[] v = {0.2023f, 0.1994f, 0.2010f};
        Recipe r = new Recipe(Config.load(null, List.of("model=resnet20", "dataset=cifar10", "std=" + Recipe.join(v))));
        assertEquals("0.2023,0.1994,0.201", Recipe.join(v));
        for (int c = 0; c < 3; c++) assertEquals(Float.floatToRawIntBits(v[c]), Float.floatToRawIntBits(r.std[c]));
    }

    @Test
    void badValuesNameTheKey() {
        IllegalArgumentException n = assertThrows(IllegalArgumentException.class,
                () -> new Recipe(Config.load(null, List.of("model=resnet20", "dataset=cifar10", "mean=0.5,0.5"))));
        assertTrue(n.getMessage().contains("'mean' needs 3 comma-separated values"), n.getMessage());
        IllegalArgumentException z = assertThrows(IllegalArgumentException.class,
                () -> new Recipe(Config.load(null, List.of("model=lenet5bn", "dataset=mnist", "std=0"))));
        assertTrue(z.getMessage().contains("'std' must be > 0"), z.getMessage());
        IllegalArgumentException t = assertThrows(IllegalArgumentException.class,
                () -> new Recipe(Config.load(null, List.of("model=lenet5bn", "dataset=mnist", "mean=abc"))));
        assertTrue(t.getMessage().contains("'mean' must be numbers"), t.getMessage());
    }

    @Test
    void theCheckpointRecordsTheResolvedNormalization() throws Exception {
        for (String[] c : new String[][] {{"", "0.286", "0.353"}, {"mean=0.5", "0.5", "0.353"}}) {
            Path out = tmp.resolve("run" + c[1]);
            List<String> o = new java.util.ArrayList<>(List.of("epochs=1", "train_limit=100", "test_limit=50"));
            if (!c[0].isEmpty()) o.add(c[0]);
            try (SingleProcess t = TrainerTest.run(TrainerTest.config(o.toArray(String[]::new)), out, TrainerTest.QUIET)) {
                t.trainer().run();
            }
            org.addernet.model.Checkpoint k;
            try (java.io.InputStream in = java.nio.file.Files.newInputStream(out.resolve(Trainer.CHECKPOINT))) {
                k = org.addernet.model.Checkpoint.read(in, "ckpt");
            }
            assertEquals(c[1], k.meta().get("config.mean"), c[0]); // Fashion-MNIST's default 0.2860 / 0.3530, or the override
            assertEquals(c[2], k.meta().get("config.std"), c[0]);
        }
    }
}
