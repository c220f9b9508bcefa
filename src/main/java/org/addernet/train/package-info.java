/**
 * Training without Spark: {@link org.addernet.train.Config} (recipes, every key declared),
 * {@link org.addernet.train.Sgd} (PyTorch SGD plus the AdderNet adaptive scaling),
 * {@link org.addernet.train.LrSchedule}, and the single-process {@link org.addernet.train.Trainer}.
 */
package org.addernet.train;
