package org.addernet.spark;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.addernet.train.TreeOrder;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.function.Function2;
import scala.Tuple2;

/**
 * A tree-shaped sum whose result does not depend on task timing: Spark's {@code treeReduce} merges results in
 * the order tasks finish, so float sums (and with them the weights) would differ from run to run. Here values
 * keyed by partition index are merged in {@link TreeOrder}: {@code depth - 1} levels of groups of consecutive
 * partitions on the executors, then the remaining few in order on the driver. A run is therefore a
 * deterministic function of its inputs, and a resumed or retried run reaches bit-identical weights.
 */
final class OrderedTreeReduce {
    private OrderedTreeReduce() {}

    static <T> T reduce(JavaPairRDD<Integer, T> values, int partitions, int depth, Function2<T, T, T> merge) throws Exception {
        int fanout = TreeOrder.fanout(partitions, depth);
        int groups = partitions;
        JavaPairRDD<Integer, T> level = values;
        for (int d = 1; TreeOrder.groupAgain(d, depth, groups, fanout); d++) {
            final int f = fanout;
            groups = (groups + fanout - 1) / fanout;
            level = level.mapToPair(t -> new Tuple2<>(t._1() / f, t))
                    .groupByKey(groups)
                    .mapValues(items -> {
                        List<Tuple2<Integer, T>> sorted = new ArrayList<>();
                        items.forEach(sorted::add);
                        sorted.sort(Comparator.comparing(Tuple2::_1));
                        T acc = sorted.get(0)._2();
                        for (int i = 1; i < sorted.size(); i++) acc = merge.call(acc, sorted.get(i)._2());
                        return acc;
                    });
        }
        List<Tuple2<Integer, T>> rest = new ArrayList<>(level.collect());
        if (rest.isEmpty()) throw new IllegalStateException("no partition returned a result");
        rest.sort(Comparator.comparing(Tuple2::_1));
        T acc = rest.get(0)._2();
        for (int i = 1; i < rest.size(); i++) acc = merge.call(acc, rest.get(i)._2());
        return acc;
    }
}
