package org.addernet.spark;

import org.addernet.train.Config;
import org.apache.spark.sql.SparkSession;

/** One local Spark session per test JVM (starting one takes seconds), with the job's Kryo settings. */
final class LocalSpark {
    private static SparkSession session;

    private LocalSpark() {}

    static synchronized SparkSession get() {
        if (session == null) {
            Config cfg = Config.load(null, java.util.List.of("model=lenet5bn", "dataset=fashion-mnist",
                    "spark.ui.enabled=false", "spark.sql.shuffle.partitions=4"));
            session = SparkSession.builder().config(SparkJob.sparkConf(cfg, "local[4]")).getOrCreate();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> session.stop()));
        }
        return session;
    }
}
