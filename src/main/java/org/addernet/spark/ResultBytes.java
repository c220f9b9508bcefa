package org.addernet.spark;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerEvent;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import scala.jdk.javaapi.CollectionConverters;

/**
 * What the driver receives from the training steps: the serialized task results ({@code taskMetrics.resultSize})
 * of the jobs whose description starts with {@code epoch } (the step jobs; caching, evaluation, scatter and gather
 * are described otherwise). Block-status messages of the BlockManagers (a few hundred bytes per stored block) are
 * not task results and are not counted. The messages a sharded step's barrier tasks send through the driver's
 * {@code BarrierCoordinator} ({@code allGather}) are counted too: the step posts their size as {@link Gathered}.
 */
final class ResultBytes extends SparkListener {
    private final Map<Integer, String> stageJob = new ConcurrentHashMap<>();
    final AtomicLong bytes = new AtomicLong(), tasks = new AtomicLong();

    @Override
    public void onJobStart(SparkListenerJobStart start) {
        String d = start.properties() == null ? null : start.properties().getProperty("spark.job.description");
        for (StageInfo s : CollectionConverters.asJava(start.stageInfos())) stageJob.put(s.stageId(), d == null ? "" : d);
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        if (end.taskMetrics() != null && stageJob.getOrDefault(end.stageId(), "").startsWith("epoch ")) {
            bytes.addAndGet(end.taskMetrics().resultSize());
            tasks.incrementAndGet();
        }
    }

    /** Bytes the driver received through {@code BarrierTaskContext.allGather} in one step (posted by the step). */
    record Gathered(long bytes) implements SparkListenerEvent {
        @Override
        public boolean logEvent() {
            return false; // not for the event log
        }
    }

    @Override
    public void onOtherEvent(SparkListenerEvent event) {
        if (event instanceof Gathered g) bytes.addAndGet(g.bytes());
    }

    void reset() {
        bytes.set(0);
        tasks.set(0);
    }
}
