package dev.rekey.connect.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
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
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Against a moto server that checks signatures and policies, seeded by src/test/moto/seed.py:
 * {@code mvn test -Dgroups=integration -Ds3.endpoint=http://127.0.0.1:35000 -Ds3.credentials=DIR}.
 * Skipped without -Ds3.endpoint.
 */
@Tag("integration")
class S3ObjectWriterIntegrationTest {
  private static final String ENDPOINT = System.getProperty("s3.endpoint");
  private static final String BUCKET = System.getProperty("s3.bucket", "rekey-it");
  private static final Path CREDENTIALS = Path.of(System.getProperty("s3.credentials", "target/moto-credentials"));

  private static String credential(String name) throws IOException {
    return Files.readString(CREDENTIALS.resolve(name)).trim();
  }

  private static S3SinkConfig config(String bucket, String keyId, String secret) {
    Map<String, String> p = new HashMap<>();
    p.put(S3SinkConfig.ACCESS_KEY_ID, keyId);
    p.put(S3SinkConfig.SECRET_ACCESS_KEY, secret);
    p.put(S3SinkConfig.BUCKET, bucket);
    p.put(S3SinkConfig.ENDPOINT, ENDPOINT);
    p.put(S3SinkConfig.PATH_STYLE, "true");
    return new S3SinkConfig(p);
  }

  private static S3SinkConfig valid(String bucket) throws IOException {
    assumeTrue(ENDPOINT != null, "needs -Ds3.endpoint");
    return config(bucket, credential("access-key-id"), credential("secret-access-key"));
  }

  private static String read(String key) throws IOException {
    try (S3Client s3 = S3Client.builder().httpClientBuilder(UrlConnectionHttpClient.builder())
        .region(Region.US_EAST_1).endpointOverride(URI.create(ENDPOINT)).forcePathStyle(true)
        .credentialsProvider(StaticCredentialsProvider.create(
            AwsBasicCredentials.create(credential("access-key-id"), credential("secret-access-key"))))
        .build()) {
      return s3.getObjectAsBytes(b -> b.bucket(BUCKET).key(key)).asString(StandardCharsets.UTF_8);
    }
  }

  @Test
  void putObjectWithPathStyleAndTheBucketPolicy() throws IOException {
    try (S3ObjectWriter writer = S3ObjectWriter.create(valid(BUCKET))) {
      writer.write("it/hello.jsonl", "{\"a\":1}\n".getBytes(StandardCharsets.UTF_8));
    }
    assertEquals("{\"a\":1}\n", read("it/hello.jsonl"));
  }

  @Test
  void buffersUploadObjectsAndOnlyThenMakeOffsetsCommittable() throws IOException {
    TopicPartition tp = new TopicPartition("cdc.it", 4);
    try (S3ObjectWriter writer = S3ObjectWriter.create(valid(BUCKET))) {
      PartitionBuffers buffers = new PartitionBuffers(writer, new ObjectKeys("topics"), new JsonLines(), 2, 60_000,
          System::currentTimeMillis);
      buffers.put(LongStream.range(0, 3).mapToObj(o -> new SinkRecord(tp.topic(), tp.partition(), null, null,
          Schema.STRING_SCHEMA, "v" + o, o, 1764142862000L, TimestampType.CREATE_TIME)).collect(Collectors.toList()));
      assertEquals(2, buffers.committable(Map.of(tp, new OffsetAndMetadata(3))).get(tp).offset());
    }
    String body = read("topics/cdc.it/partition=4/dt=2025-11-26/hour=07/cdc.it+4+0.jsonl");
    assertEquals(List.of("v0", "v1"), body.lines().map(l -> l.replaceAll(".*\"value\":\"(\\w+)\".*", "$1"))
        .collect(Collectors.toList()));
  }

  @Test
  void unknownAccessKeyIs403InvalidAccessKeyIdAndFailsTheTask() throws IOException {
    valid(BUCKET);
    String secret = "wrong-secret-" + System.nanoTime();
    try (S3ObjectWriter writer = S3ObjectWriter.create(config(BUCKET, "AKIAUNKNOWNKEY000000", secret))) {
      ConnectException e = assertThrows(ConnectException.class, () -> writer.write("it/x", new byte[] {1}));
      assertFalse(e instanceof RetriableException, e.toString());
      assertTrue(e.getMessage().contains("HTTP 403 InvalidAccessKeyId"), e.getMessage());
      assertFalse(e.getMessage().contains(secret));
    }
  }

  @Test
  void wrongSecretIs403SignatureDoesNotMatch() throws IOException {
    S3SinkConfig good = valid(BUCKET);
    try (S3ObjectWriter writer = S3ObjectWriter.create(config(BUCKET, good.accessKeyId(), "not-the-secret"))) {
      ConnectException e = assertThrows(ConnectException.class, () -> writer.write("it/x", new byte[] {1}));
      assertFalse(e instanceof RetriableException, e.toString());
      assertTrue(e.getMessage().contains("HTTP 403 SignatureDoesNotMatch"), e.getMessage());
    }
  }

  @Test
  void bucketOutsideThePolicyIs403AccessDenied() throws IOException {
    try (S3ObjectWriter writer = S3ObjectWriter.create(valid(BUCKET + "-other"))) {
      ConnectException e = assertThrows(ConnectException.class, () -> writer.write("it/x", new byte[] {1}));
      assertFalse(e instanceof RetriableException, e.toString());
      assertTrue(e.getMessage().contains("HTTP 403 AccessDenied"), e.getMessage());
    }
  }

  @Test
  void unreachableEndpointIsRetriable() throws IOException {
    S3SinkConfig good = valid(BUCKET);
    Map<String, String> p = new HashMap<>(good.originalsStrings());
    p.put(S3SinkConfig.ENDPOINT, "http://127.0.0.1:9"); // discard port: connection refused
    try (S3ObjectWriter writer = S3ObjectWriter.create(new S3SinkConfig(p))) {
      assertThrows(RetriableException.class, () -> writer.write("it/x", new byte[] {1}));
    }
  }
}
