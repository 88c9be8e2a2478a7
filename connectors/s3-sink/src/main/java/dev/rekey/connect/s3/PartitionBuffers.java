package dev.rekey.connect.s3;

import java.io.ByteArrayOutputStream;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongSupplier;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.sink.SinkRecord;

/**
 * One buffer per topic-partition and the offset bookkeeping that makes the sink at-least-once:
 * an offset is offered for commit only when every record below it that reached {@link #put} is
 * in an uploaded object. A failed upload leaves its buffer as it was, so the same object (same
 * key, same bytes) is tried again and the committable offset does not move.
 *
 * <p>Not thread-safe: Connect calls a task's put/preCommit/close from one thread.
 */
final class PartitionBuffers {
  private final ObjectWriter writer;
  private final ObjectKeys keys;
  private final JsonLines lines;
  private final int flushSize;
  private final long rotateIntervalMs;
  private final LongSupplier clock;
  private final Map<TopicPartition, Buffer> buffers = new HashMap<>();

  PartitionBuffers(ObjectWriter writer, ObjectKeys keys, JsonLines lines, int flushSize,
                   long rotateIntervalMs, LongSupplier clock) {
    this.writer = writer;
    this.keys = keys;
    this.lines = lines;
    this.flushSize = flushSize;
    this.rotateIntervalMs = rotateIntervalMs;
    this.clock = clock;
  }

  /**
   * Buffers the records and uploads every buffer that is full or old enough. Records below a
   * partition's {@code next} offset are skipped: they are already buffered or uploaded, and come
   * again because Connect re-delivers the whole batch after a RetriableException, or rewinds to
   * the last committed offset after a failed commit.
   */
  void put(Collection<SinkRecord> records) {
    for (SinkRecord r : records) {
      TopicPartition tp = new TopicPartition(r.topic(), r.kafkaPartition());
      Buffer b = buffers.computeIfAbsent(tp, Buffer::new);
      if (b.next >= 0 && r.kafkaOffset() < b.next) continue;
      // full since an earlier upload failed: retry it before it grows past flush.size
      if (b.count >= flushSize) upload(b);
      b.append(r);
    }
    flushDue();
  }

  /** Uploads every buffer that reached flush.size or rotate.interval.ms; stops at the first failure. */
  void flushDue() {
    long now = clock.getAsLong();
    for (Buffer b : buffers.values()) {
      if (b.count >= flushSize || (b.count > 0 && now - b.openedAt >= rotateIntervalMs)) upload(b);
    }
  }

  /**
   * What preCommit may return: for a partition with buffered records, the first buffered offset
   * (everything below it is uploaded); for an empty one, Connect's current offset (everything it
   * handed us is uploaded, and offsets between are records an SMT or error tolerance dropped).
   * Never above the current offset: Connect ignores such offsets as "not yet consumed".
   */
  Map<TopicPartition, OffsetAndMetadata> committable(Map<TopicPartition, OffsetAndMetadata> current) {
    Map<TopicPartition, OffsetAndMetadata> out = new HashMap<>();
    current.forEach((tp, cur) -> {
      Buffer b = buffers.get(tp);
      if (b == null || b.count == 0) {
        out.put(tp, cur);
      } else {
        out.put(tp, new OffsetAndMetadata(Math.min(b.start, cur.offset())));
      }
    });
    return out;
  }

  /**
   * Forgets the partitions' buffers (on close: rebalance or stop). Their records are not
   * committed, so whichever task gets the partition next reads them again from the committed
   * offset; uploading them here could not get their offsets committed any more.
   */
  void discard(Collection<TopicPartition> partitions) {
    partitions.forEach(buffers::remove);
  }

  /** Records buffered and not yet uploaded, all partitions (for logs and tests). */
  int buffered() {
    return buffers.values().stream().mapToInt(b -> b.count).sum();
  }

  private void upload(Buffer b) {
    String key = keys.key(b.tp.topic(), b.tp.partition(), b.start, b.timestamp);
    writer.write(key, b.out.toByteArray()); // throws: buffer unchanged, nothing committable moves
    b.reset();
  }

  private final class Buffer {
    final TopicPartition tp;
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    int count;
    long start = -1;     // offset of the first buffered record
    long next = -1;      // offset after the last record buffered (or uploaded); -1 = none yet
    long timestamp;      // of the first buffered record, or wall clock: picks dt=/hour=
    long openedAt;       // wall clock of the first buffered record: drives rotate.interval.ms

    Buffer(TopicPartition tp) {
      this.tp = tp;
    }

    void append(SinkRecord r) {
      out.writeBytes(lines.line(r));
      if (count++ == 0) {
        start = r.kafkaOffset();
        openedAt = clock.getAsLong();
        timestamp = r.timestamp() != null && r.timestamp() >= 0 ? r.timestamp() : openedAt;
      }
      next = r.kafkaOffset() + 1;
    }

    void reset() {
      out.reset();
      count = 0;
      start = -1;
    }
  }
}
