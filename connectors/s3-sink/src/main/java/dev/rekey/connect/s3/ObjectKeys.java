package dev.rekey.connect.s3;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * Object key layout:
 * {@code <topics.dir>/<topic>/partition=<p>/dt=<yyyy-MM-dd>/hour=<HH>/<topic>+<p>+<startOffset>.jsonl}.
 * Hive-style {@code name=value} folders let Athena/Spark prune by partition and time; the file
 * name repeats topic and partition so a key alone says where its records came from, and the
 * start offset makes a rewritten batch (after a crash) overwrite rather than pile up when it
 * starts at the same offset.
 */
final class ObjectKeys {
  // UTC, never the worker's zone: two workers in different zones must agree on the folder.
  private static final DateTimeFormatter DAY = DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter HOUR = DateTimeFormatter.ofPattern("HH").withZone(ZoneOffset.UTC);

  private final String topicsDir;

  ObjectKeys(String topicsDir) {
    this.topicsDir = topicsDir;
  }

  /** @param epochMillis the first record's timestamp, or the wall clock when it had none */
  String key(String topic, int partition, long startOffset, long epochMillis) {
    Instant t = Instant.ofEpochMilli(epochMillis);
    return topicsDir + '/' + topic + "/partition=" + partition
        + "/dt=" + DAY.format(t) + "/hour=" + HOUR.format(t)
        + '/' + topic + '+' + partition + '+' + startOffset + ".jsonl";
  }
}
