package org.addernet.spark;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import org.addernet.train.TreeOrder;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.function.Function2;
import scala.Tuple2;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;

/**
 * A tree-shaped sum whose result does not depend on task timing: Spark's {@code treeReduce} merges results in
 * the order tasks finish, so float sums (and with them the weights) would differ from run to run. Here values
 * keyed by partition index are merged in {@link TreeOrder}: {@code depth - 1} levels of groups of consecutive
 * partitions on the executors, then the remaining few in order on the driver. A run is therefore a
 * deterministic function of its inputs, and a resumed or retried run reaches bit-identical weights.
 */
final class OrderedTreeReduce {
    private OrderedTreeReduce() {}

    /**
     * Local mode's direct path keeps the results in the JVM ({@link LocalResults}); tests clear it to see the
     * serialized results a cluster's driver receives.
     */
    static volatile boolean localResults = true;

    /**
     * Runs {@code task} on every partition of {@code shards} (each returns one {@code (partition, value)}) and sums
     * the values in {@link TreeOrder}. When the tree has no executor-side level (W <= fanout, e.g. W = 2 at the default
     * depth) this is one {@code SparkContext.runJob} over {@code shards} itself: no new RDDs per step, and none of the
     * closures that Spark's ClosureCleaner would parse (it reads the bytecode of the class declaring a lambda, for
     * {@code mapPartitionsWithIndex}, {@code mapToPair} and {@code collect} each: ~3 ms of driver CPU per LeNet step,
     * measured). {@code timings}, if not null, gets the job and the driver's sum as laps.
     */
    static <T> T reduce(JavaRDD<Object> shards, Function2<Integer, Iterator<Object>, Iterator<Tuple2<Integer, T>>> task, Class<T> type,
                        int partitions, int depth, Function2<T, T, T> merge, StepTimings timings) throws Exception {
        if (TreeOrder.groupAgain(1, depth, partitions, TreeOrder.fanout(partitions, depth))) {
            T r = reduce(shards.mapPartitionsWithIndex(task, true).mapToPair(t -> t), partitions, depth, merge, timings);
            if (timings != null) timings.lap(StepTimings.Lap.SUM);
            return r;
        }
        List<Object> ids = new ArrayList<>();
        for (int p = 0; p < partitions; p++) ids.add(p);
        @SuppressWarnings("unchecked")
        T[] results = (T[]) java.lang.reflect.Array.newInstance(type, partitions);
        // Local mode: the results stay in this JVM (LocalResults); a cluster's tasks return them serialized.
        long job = localResults && shards.context().isLocal() ? LocalResults.open(task) : 0;
        if (timings != null) timings.localSubmit(partitions);
        try {
            shards.rdd().sparkContext().runJob(shards.rdd(), new PartitionTask<>(task, job), CollectionConverters.asScala(ids).toSeq(),
                    new AbstractFunction2<Object, Object, BoxedUnit>() {
                        @Override
                        public BoxedUnit apply(Object partition, Object value) {
                            // Spark calls this on its scheduler thread, one result at a time, before runJob returns.
                            results[(Integer) partition] = type.cast(LocalResults.take(value));
                            if (timings != null) StepTimings.localHandled((Integer) partition);
                            return BoxedUnit.UNIT;
                        }
                    }, ClassTag$.MODULE$.Any());
        } finally {
            if (job != 0) LocalResults.close(job);
        }
        if (timings != null) {
            timings.localReturned();
            timings.lap(StepTimings.Lap.JOB);
        }
        T acc = results[0];
        for (int i = 1; i < partitions; i++) acc = merge.call(acc, results[i]);
        if (timings != null) timings.lap(StepTimings.Lap.SUM);
        return acc;
    }

    /**
     * A partition's task as {@code runJob} wants it. A named class, not a lambda: the ClosureCleaner leaves it alone
     * (it only parses lambdas and {@code $anonfun$} classes) and Spark serializes it once, into the job's task binary.
     */
    static final class PartitionTask<T> extends AbstractFunction2<TaskContext, scala.collection.Iterator<Object>, Object>
            implements java.io.Serializable {
        private static final long serialVersionUID = 1L;
        /** The function itself, or null in local mode, where {@link LocalResults} holds it under {@link #localJob}. */
        private final Function2<Integer, Iterator<Object>, Iterator<Tuple2<Integer, T>>> task;
        /** The job's {@link LocalResults} table, or 0: the task travels in this object and returns its value itself. */
        private final long localJob;

        PartitionTask(Function2<Integer, Iterator<Object>, Iterator<Tuple2<Integer, T>>> task, long localJob) {
            this.task = localJob == 0 ? task : null;
            this.localJob = localJob;
        }

        @Override
        public Object apply(TaskContext context, scala.collection.Iterator<Object> part) {
            try {
                @SuppressWarnings("unchecked")
                Function2<Integer, Iterator<Object>, Iterator<Tuple2<Integer, T>>> f = localJob == 0 ? task
                        : (Function2<Integer, Iterator<Object>, Iterator<Tuple2<Integer, T>>>) LocalResults.task(localJob);
                Iterator<Tuple2<Integer, T>> r = f.call(context.partitionId(), CollectionConverters.asJava(part));
                T value = r.next()._2();
                return localJob == 0 ? value : LocalResults.put(localJob, value);
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    static <T> T reduce(JavaPairRDD<Integer, T> values, int partitions, int depth, Function2<T, T, T> merge) throws Exception {
        return reduce(values, partitions, depth, merge, null);
    }

    private static <T> T reduce(JavaPairRDD<Integer, T> values, int partitions, int depth, Function2<T, T, T> merge,
                                StepTimings timings) throws Exception {
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
        if (timings != null) timings.lap(StepTimings.Lap.JOB);
        if (rest.isEmpty()) throw new IllegalStateException("no partition returned a result");
        rest.sort(Comparator.comparing(Tuple2::_1));
        T acc = rest.get(0)._2();
        for (int i = 1; i < rest.size(); i++) acc = merge.call(acc, rest.get(i)._2());
        return acc;
    }
}
