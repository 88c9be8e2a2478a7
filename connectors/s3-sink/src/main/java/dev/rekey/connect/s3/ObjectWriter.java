package dev.rekey.connect.s3;

/**
 * Uploads one finished object. The seam between the buffering (pure, unit-tested with a fake)
 * and S3. Implementations throw {@link org.apache.kafka.connect.errors.RetriableException} when
 * the same upload may succeed later and {@link org.apache.kafka.connect.errors.ConnectException}
 * when it will not; either way the object counts as not written.
 */
@FunctionalInterface
public interface ObjectWriter {
  void write(String key, byte[] body);
}
