package dev.rekey.connect.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.SinkRecord;
import org.junit.jupiter.api.Test;

class PartitionBuffersTest {
  private static final TopicPartition TP0 = new TopicPartition("t", 0);
  private static final TopicPartition TP1 = new TopicPartition("t", 1);
  private static final long T0 = 1764142862000L; // 2025-11-26T07:41:02Z

  /** The fake S3: records uploads, or fails with the next queued exception. */
  private final Map<String, String> uploaded = new LinkedHashMap<>();
  private final List<RuntimeException> failures = new ArrayList<>();
  private final long[] now = {T0};
  private final PartitionBuffers buffers = new PartitionBuffers((key, body) -> {
    if (!failures.isEmpty()) throw failures.remove(0);
    uploaded.put(key, new String(body, StandardCharsets.UTF_8));
  }, new ObjectKeys("topics"), new JsonLines(), 3, 10_000, () -> now[0]);

  private static SinkRecord rec(TopicPartition tp, long offset) {
    return new SinkRecord(tp.topic(), tp.partition(), null, null, Schema.INT64_SCHEMA, offset, offset,
        T0 + offset, TimestampType.CREATE_TIME);
  }

  private static List<SinkRecord> recs(TopicPartition tp, long from, long to) {
    return LongStream.range(from, to).mapToObj(o -> rec(tp, o)).collect(Collectors.toList());
  }

  private static Map<TopicPartition, OffsetAndMetadata> current(long tp0, long tp1) {
    return Map.of(TP0, new OffsetAndMetadata(tp0), TP1, new OffsetAndMetadata(tp1));
  }

  private static long offsetOf(Map<TopicPartition, OffsetAndMetadata> m, TopicPartition tp) {
    return m.get(tp).offset();
  }

  @Test
  void flushSizeWritesOneObjectPerFullBufferAndCommitsOnlyWhatIsUploaded() {
    buffers.put(recs(TP0, 0, 7)); // 0-2 and 3-5 full, 6 buffered
    assertEquals(List.of("topics/t/partition=0/dt=2025-11-26/hour=07/t+0+0.jsonl",
        "topics/t/partition=0/dt=2025-11-26/hour=07/t+0+3.jsonl"), List.copyOf(uploaded.keySet()));
    assertEquals(3, uploaded.values().iterator().next().lines().count());
    assertTrue(uploaded.values().iterator().next().startsWith("{\"topic\":\"t\",\"partition\":0,\"offset\":0,"));
    Map<TopicPartition, OffsetAndMetadata> c = buffers.committable(current(7, 0));
    assertEquals(6, offsetOf(c, TP0), "record 6 is only buffered");
    assertEquals(0, offsetOf(c, TP1), "nothing handed over for partition 1: its current offset");
  }

  @Test
  void rotateIntervalWritesASmallObjectOnceOldEnough() {
    buffers.put(recs(TP1, 10, 12));
    now[0] += 9_999;
    buffers.flushDue();
    assertEquals(0, uploaded.size());
    assertEquals(10, offsetOf(buffers.committable(current(0, 12)), TP1));
    now[0] += 1;
    buffers.flushDue();
    assertEquals(List.of("topics/t/partition=1/dt=2025-11-26/hour=07/t+1+10.jsonl"), List.copyOf(uploaded.keySet()));
    assertEquals(12, offsetOf(buffers.committable(current(0, 12)), TP1));
  }

  @Test
  void failedUploadDoesNotAdvanceAndTheRedeliveredBatchIsNotDuplicated() {
    failures.add(new RetriableException("HTTP 503 SlowDown"));
    List<SinkRecord> batch = recs(TP0, 0, 5);
    assertThrows(RetriableException.class, () -> buffers.put(batch));
    assertEquals(0, uploaded.size());
    // Connect did not advance current past the failed batch; we must not either
    assertEquals(0, offsetOf(buffers.committable(current(0, 0)), TP0));

    buffers.put(batch); // Connect re-delivers the same batch after a RetriableException
    assertEquals(List.of("topics/t/partition=0/dt=2025-11-26/hour=07/t+0+0.jsonl"), List.copyOf(uploaded.keySet()));
    String first = uploaded.values().iterator().next();
    assertEquals(3, first.lines().count(), "same object as the failed attempt, no record twice");
    assertEquals(3, offsetOf(buffers.committable(current(5, 0)), TP0), "3 and 4 still buffered");
    assertEquals(2, buffers.buffered());
  }

  @Test
  void rewindToTheLastCommitSkipsWhatIsAlreadyUploadedOrBuffered() {
    buffers.put(recs(TP0, 0, 4)); // 0-2 uploaded, 3 buffered
    buffers.put(recs(TP0, 0, 5)); // rewound to 0 after a failed commit: only 4 is new
    assertEquals(1, uploaded.size());
    now[0] += 10_000;
    buffers.flushDue();
    assertEquals(2, uploaded.size());
    assertEquals("[3, 4]", uploaded.values().stream().skip(1).findFirst().orElseThrow().lines()
        .map(l -> l.replaceAll(".*\"offset\":(\\d+).*", "$1")).collect(Collectors.toList()).toString());
  }

  @Test
  void permanentFailureKeepsTheBufferAndItsOffset() {
    failures.add(new ConnectException("HTTP 403 AccessDenied"));
    buffers.put(recs(TP1, 20, 22));
    now[0] += 10_000;
    assertThrows(ConnectException.class, buffers::flushDue);
    assertEquals(20, offsetOf(buffers.committable(current(0, 22)), TP1));
    assertEquals(2, buffers.buffered());
  }

  @Test
  void committableNeverExceedsConnectsCurrentOffset() {
    buffers.put(recs(TP0, 0, 3)); // uploaded through 2
    // Connect's current offset lags when the put that uploaded threw for another partition
    assertEquals(1, offsetOf(buffers.committable(current(1, 0)), TP0));
    buffers.put(recs(TP0, 3, 4));
    assertEquals(2, offsetOf(buffers.committable(current(2, 0)), TP0), "after a rewind below the buffer");
  }

  @Test
  void closeDiscardsUnuploadedRecordsSoTheyAreReadAgain() {
    buffers.put(recs(TP0, 0, 2));
    buffers.discard(List.of(TP0));
    assertEquals(0, buffers.buffered());
    buffers.put(recs(TP0, 0, 3)); // re-read from the committed offset after reassignment
    assertEquals(List.of("topics/t/partition=0/dt=2025-11-26/hour=07/t+0+0.jsonl"), List.copyOf(uploaded.keySet()));
  }

  @Test
  void recordWithoutTimestampIsFiledUnderTheWallClock() {
    now[0] = 1767225600000L; // 2026-01-01T00:00:00Z
    buffers.put(List.of(new SinkRecord("t", 0, null, null, null, "v", 0L)));
    now[0] += 10_000;
    buffers.flushDue();
    assertEquals(List.of("topics/t/partition=0/dt=2026-01-01/hour=00/t+0+0.jsonl"), List.copyOf(uploaded.keySet()));
  }
}
