package org.addernet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class DatasetsTest {
    @Test
    void defaults() {
        Datasets.Spec f = Datasets.spec("fashion-mnist");
        assertEquals(10, f.numClasses());
        assertArrayEquals(new float[] {0.2860f}, f.mean());
        assertArrayEquals(new float[] {0.3530f}, f.std());
        assertEquals(Datasets.Augmentation.NONE, f.augmentation());
        assertEquals(List.of(1, 28, 28), List.of(f.channels(), f.height(), f.width()));

        Datasets.Spec m = Datasets.spec("MNIST");
        assertArrayEquals(new float[] {0.1307f}, m.mean());
        assertArrayEquals(new float[] {0.3081f}, m.std());

        Datasets.Spec c10 = Datasets.spec("cifar10");
        assertArrayEquals(new float[] {0.4914f, 0.4822f, 0.4465f}, c10.mean());
        assertArrayEquals(new float[] {0.2470f, 0.2435f, 0.2616f}, c10.std());
        assertEquals(Datasets.Augmentation.CIFAR, c10.augmentation());
        assertEquals(List.of(3, 32, 32), List.of(c10.channels(), c10.height(), c10.width()));

        Datasets.Spec c100 = Datasets.spec("cifar100");
        assertEquals(100, c100.numClasses());
        assertArrayEquals(new float[] {0.5071f, 0.4865f, 0.4409f}, c100.mean());
        assertArrayEquals(new float[] {0.2673f, 0.2564f, 0.2762f}, c100.std());
    }

    @Test
    void specArraysCannotBeChangedFromOutside() {
        Datasets.spec("mnist").mean()[0] = 99f;
        assertEquals(0.1307f, Datasets.spec("mnist").mean()[0]);
    }

    @Test
    void unknownNameListsKnownOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Datasets.spec("svhn"));
        for (String n : List.of("svhn", "imagenet", "mnist", "fashion-mnist", "cifar10", "cifar100")) {
            assertTrue(e.getMessage().contains(n), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Datasets.load("svhn", Fixtures.fashionSmall(), true));
    }
}
