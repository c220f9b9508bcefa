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
            assertTrue(ex.getMessage().contains("epoch 3 step 7") && ex.getMessage().contains("non-finite loss"), ex.getMessage());
            assertArrayEquals(before, m.params().data);
            assertArrayEquals(buffers, m.params().buffers);
            assertEquals(0, sgd.steps());
        }
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
