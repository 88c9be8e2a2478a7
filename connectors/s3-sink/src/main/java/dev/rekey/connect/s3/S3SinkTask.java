package dev.rekey.connect.s3;

import java.util.Collection;
import java.util.Map;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Glue between Connect's task lifecycle and {@link PartitionBuffers}. Offsets are committed
 * through {@link #preCommit} only (never {@link #flush}), so Connect commits what is uploaded,
 * not what it has handed us.
 */
public class S3SinkTask extends SinkTask {
  private static final Logger log = LoggerFactory.getLogger(S3SinkTask.class);
  // how long Connect waits before re-delivering a batch whose upload failed retriably; the SDK
  // has already retried within the call, so this is the pause between rounds of that
  static final long RETRY_BACKOFF_MS = 2_000;

  private S3ObjectWriter s3;
  private PartitionBuffers buffers;

  @Override
  public String version() {
    return S3SinkConnector.version(getClass());
  }

  @Override
  public void start(Map<String, String> props) {
    S3SinkConfig config = new S3SinkConfig(props);
    s3 = S3ObjectWriter.create(config);
    buffers = new PartitionBuffers(s3, new ObjectKeys(config.topicsDir()), new JsonLines(),
        config.flushSize(), config.rotateIntervalMs(), System::currentTimeMillis);
    log.info("S3 sink writing to s3://{}/{} (region {}, endpoint {}, path-style {}, access key {}), "
            + "flush.size {}, rotate.interval.ms {}", config.bucket(), config.topicsDir(), config.region(),
        config.endpoint().isEmpty() ? "AWS" : config.endpoint(), config.pathStyle(), config.accessKeyId(),
        config.flushSize(), config.rotateIntervalMs());
  }

  @Override
  public void put(Collection<SinkRecord> records) {
    try {
      buffers.put(records);
    } catch (RetriableException e) {
      log.warn("S3 upload failed, Connect will re-deliver the batch in {} ms: {}", RETRY_BACKOFF_MS, e.getMessage());
      context.timeout(RETRY_BACKOFF_MS);
      throw e;
    }
  }

  @Override
  public Map<TopicPartition, OffsetAndMetadata> preCommit(Map<TopicPartition, OffsetAndMetadata> current) {
    // Uploading due buffers here makes an idle partition's last records durable (and
    // committable) at the commit interval instead of waiting for the next poll's put.
    try {
      buffers.flushDue();
    } catch (RuntimeException e) {
      // Not thrown: Connect would only log it and rewind. The buffer is kept, the next put
      // tries again and throws there, where Connect retries or fails the task as it should.
      log.warn("S3 upload at offset commit failed, committing what is uploaded: {}", e.getMessage());
    }
    return buffers.committable(current);
  }

  @Override
  public void close(Collection<TopicPartition> partitions) {
    if (buffers != null) buffers.discard(partitions);
  }

  @Override
  public void stop() {
    if (s3 != null) s3.close();
  }
}
