package org.addernet.train;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BinaryOperator;

/**
 * The order in which the workers' results of a step are summed: {@code depth - 1} levels that each merge
 * consecutive groups of {@link #fanout} results left to right, then a left fold of what remains. The Spark job
 * sums across executors in exactly this association, and the single-process trainer emulating W workers does
 * too, so the two agree bit for bit (float addition is not associative).
 */
public final class TreeOrder {
    private TreeOrder() {}

    public static int fanout(int parts, int depth) {
        return Math.max(2, (int) Math.ceil(Math.pow(parts, 1.0 / Math.max(depth, 1))));
    }

    /** Whether one more level of grouping runs when {@code groups} results remain at level {@code level} (from 1). */
    public static boolean groupAgain(int level, int depth, int groups, int fanout) {
        return level < depth && groups > fanout;
    }

    /** Merges {@code parts} (in partition order) in the tree order. */
    public static <T> T merge(List<T> parts, int depth, BinaryOperator<T> merge) {
        if (parts.isEmpty()) throw new IllegalArgumentException("nothing to merge");
        int fanout = fanout(parts.size(), depth);
        List<T> level = parts;
        for (int d = 1; groupAgain(d, depth, level.size(), fanout); d++) {
            List<T> next = new ArrayList<>();
            for (int i = 0; i < level.size(); i += fanout) next.add(fold(level.subList(i, Math.min(i + fanout, level.size())), merge));
            level = next;
        }
        return fold(level, merge);
    }

    private static <T> T fold(List<T> items, BinaryOperator<T> merge) {
        T acc = items.get(0);
        for (int i = 1; i < items.size(); i++) acc = merge.apply(acc, items.get(i));
        return acc;
    }
}
