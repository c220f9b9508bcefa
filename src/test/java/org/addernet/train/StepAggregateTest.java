package org.addernet.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.addernet.engine.Engine;
import org.addernet.model.Model;
import org.addernet.model.Models;
import org.junit.jupiter.api.Test;

class StepAggregateTest {
    @Test
    void aNonFiniteLossStopsBeforeAnyWeightChanges() {
        try (Engine e = Engine.create(1, "scalar")) {
            Model m = Models.create("lenet5bn", true, 10, e, 1);
            float[] before = m.params().data.clone(), buffers = m.params().buffers.clone();
            Sgd sgd = new Sgd(m.params().size(), 0.9, 5e-4, false, 0.2);
            StepAggregate agg = StepAggregate.of(new float[m.params().size()], new double[m.params().buffers.length], 4, Double.NaN, 1);
            IllegalStateException ex = assertThrows(IllegalStateException.class, () -> agg.apply(m, sgd, 0.1, false, "epoch 3 step 7"));
            assertTrue(ex.getMessage().contains("epoch 3 step 7") && ex.getMessage().contains("diverged"), ex.getMessage());
            assertArrayEquals(before, m.params().data);
            assertArrayEquals(buffers, m.params().buffers);
            assertEquals(0, sgd.steps());
        }
    }

    /** A step whose workers report different kernel sets fails, naming both; equal ones merge and are kept. */
    @Test
    void workersWithDifferentKernelSetsFailTheStep() {
        ShardStep.Result a = new ShardStep.Result(new float[] {1f}, new double[] {2}, 3, 0.5, 1, "vector-16");
        ShardStep.Result b = new ShardStep.Result(new float[] {1f}, new double[] {2}, 3, 0.5, 1, "vector-8");
        ShardStep.Result c = new ShardStep.Result(new float[] {4f}, new double[] {5}, 2, 0.25, 2, "vector-16");
        StepAggregate same = new StepAggregate().add(a).merge(new StepAggregate().add(c));
        assertEquals("vector-16", same.kernels());
        assertEquals(5f, same.grad()[0]);
        for (Runnable mix : new Runnable[] {
            () -> new StepAggregate().add(a).merge(new StepAggregate().add(b)),
            () -> new StepAggregate().add(b).add(c),
            () -> StepAggregate.of(new float[1], new double[1], 1, 0, 0, "scalar").merge(new StepAggregate().add(a))}) {
            IllegalStateException ex = assertThrows(IllegalStateException.class, mix::run);
            assertTrue(ex.getMessage().contains("different kernel sets") && ex.getMessage().contains("vector-16"), ex.getMessage());
            assertTrue(ex.getMessage().contains("vector-8") || ex.getMessage().contains("scalar"), ex.getMessage());
        }
        // An empty aggregate (the tree's zero) takes the kernels of the first result.
        assertEquals("vector-8", new StepAggregate().merge(new StepAggregate()).add(b).kernels());
    }

    @Test
    void treeOrderGroupsConsecutivePartitions() {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < 9; i++) parts.add("p" + i);
        // 9 partitions, depth 2: fanout 3, groups of consecutive partitions folded left, then the groups.
        assertEquals("((((p0+p1)+p2)+((p3+p4)+p5))+((p6+p7)+p8))", TreeOrder.merge(parts, 2, (a, b) -> "(" + a + "+" + b + ")"));
        assertEquals("[[[p0+p1]+p2]+p3]", TreeOrder.merge(parts.subList(0, 4), 1, (a, b) -> "[" + a + "+" + b + "]"));
    }
}
