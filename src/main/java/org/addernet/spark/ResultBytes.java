package org.addernet.spark;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import scala.jdk.javaapi.CollectionConverters;

/**
 * What the driver receives from the training steps: the serialized task results ({@code taskMetrics.resultSize})
 * of the jobs whose description starts with {@code epoch } (the step jobs; caching, evaluation, scatter and gather
 * are described otherwise). Block-status messages of the BlockManagers (a few hundred bytes per stored block) are
 * not task results and are not counted.
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

    void reset() {
        bytes.set(0);
        tasks.set(0);
    }
}
