package dev.rekey.connect.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class ObjectKeysTest {
  private final ObjectKeys keys = new ObjectKeys("topics");

  @Test
  void layoutIsTopicPartitionDayHourThenTopicPartitionStartOffset() {
    long t = Instant.parse("2026-11-26T07:41:02.123Z").toEpochMilli();
    assertEquals("topics/cdc.public.users/partition=3/dt=2026-11-26/hour=07/cdc.public.users+3+1042.jsonl",
        keys.key("cdc.public.users", 3, 1042, t));
  }

  @Test
  void timeIsUtcAndHourIsTwoDigitsAcrossMidnight() {
    long t = Instant.parse("2026-12-31T23:59:59.999Z").toEpochMilli();
    assertEquals("topics/t/partition=0/dt=2026-12-31/hour=23/t+0+0.jsonl", keys.key("t", 0, 0, t));
    assertEquals("topics/t/partition=0/dt=2027-01-01/hour=00/t+0+0.jsonl", keys.key("t", 0, 0, t + 1));
  }

  @Test
  void topicsDirIsTheConfiguredPrefix() {
    assertEquals("archive/cdc/t/partition=12/dt=1970-01-01/hour=00/t+12+9223372036854775806.jsonl",
        new ObjectKeys("archive/cdc").key("t", 12, Long.MAX_VALUE - 1, 0));
  }
}
