package org.addernet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * {@code lr_scaling}: the linear scaling rule (Goyal et al. 2017) {@code lr0 = lr * B / 256}, and the schedule it
 * feeds with the warm-up. Expected values from the formulas, written out here.
 */
class LrScalingTest {
    static Recipe recipe(String... overrides) throws Exception {
        return new Recipe(TrainerTest.config(overrides));
    }

    @Test
    void linearScalesTheInitialRateByTheBatchOver256() throws Exception {
        assertEquals(0.1, recipe("batch_size=1024").lr0(), 0, "none is the default");
        assertEquals(0.1, recipe("batch_size=1024", "lr_scaling=none").lr0(), 0);
        assertEquals(0.4, recipe("batch_size=1024", "lr_scaling=linear").lr0(), 1e-15);
        assertEquals(1.6, recipe("batch_size=4096", "lr_scaling=linear").lr0(), 1e-15);
        assertEquals(0.1, recipe("batch_size=256", "lr_scaling=linear").lr0(), 0);
        assertEquals(0.05 * 100 / 256.0, recipe("batch_size=100", "lr=0.05", "lr_scaling=linear").lr0(), 1e-15);
    }

    @Test
    void scaledCosineWithWarmUp() throws Exception {
        // 10 epochs of 5 steps, warm-up over the first 2 epochs (10 steps): lr0 * (t + 1) / 10 times the cosine of
        // the epoch, then the cosine alone.
        Recipe r = recipe("batch_size=1024", "lr_scaling=linear", "warmup_epochs=2", "epochs=10", "lr_schedule=cosine");
        LrSchedule s = r.schedule(5);
        for (int e = 0; e < 10; e++) {
            for (int step = 0; step < 5; step++) {
                int t = e * 5 + step;
                double cosine = 0.4 * (1 + Math.cos(Math.PI * e / 10)) / 2;
                double want = t < 10 ? cosine * (t + 1) / 10 : cosine;
                assertEquals(want, s.lr(e, step), 1e-15, "epoch " + e + " step " + step);
            }
        }
        assertEquals(0.04, s.lr(0, 0), 1e-15);
        assertEquals(0.4, s.lr(0, 4) * 2, 1e-15); // half-way through the warm-up, still epoch 0
        assertEquals(0.4 * (1 + Math.cos(Math.PI * 2 / 10)) / 2, s.lr(2, 0), 1e-15); // warm-up over
        // Constant schedule: the warm-up ramps to exactly lr0 and stays.
        LrSchedule c = recipe("batch_size=4096", "lr_scaling=linear", "warmup_epochs=1", "lr_schedule=constant").schedule(4);
        assertEquals(0.4, c.lr(0, 0), 1e-15);
        assertEquals(1.6, c.lr(0, 3), 1e-15);
        assertEquals(1.6, c.lr(5, 2), 1e-15);
    }

    @Test
    void badValueNamesTheKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> recipe("lr_scaling=sqrt"));
        assertTrue(e.getMessage().contains("lr_scaling") && e.getMessage().contains("sqrt"), e.getMessage());
    }

    @Test
    void theSummaryLineGivesTheEffectiveRate() throws Exception {
        String s = recipe("batch_size=1024", "lr_scaling=linear", "warmup_epochs=2", "micro_batch=64").stepSummary();
        assertTrue(s.startsWith("lr0 0.4 = lr 0.1 x batch 1024 / 256 (lr_scaling=linear), cosine, warm-up 2 epochs"), s);
        assertTrue(s.contains("micro-batches of at most 64"), s);
        assertEquals("lr0 0.1, cosine, no warm-up", recipe().stepSummary());
    }
}
