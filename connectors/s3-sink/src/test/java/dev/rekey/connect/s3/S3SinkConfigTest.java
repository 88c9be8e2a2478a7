package dev.rekey.connect.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;

class S3SinkConfigTest {
  private static Map<String, String> minimal() {
    Map<String, String> p = new HashMap<>();
    p.put("aws.access.key.id", "AKIAEXAMPLE");
    p.put("aws.secret.access.key", "s3cr3t-value");
    p.put("aws.s3.bucket.name", "datapipe-archive");
    return p;
  }

  @Test
  void defaults() {
    S3SinkConfig c = new S3SinkConfig(minimal());
    assertEquals("us-east-1", c.region());
    assertEquals("", c.endpoint());
    assertFalse(c.pathStyle());
    assertEquals("topics", c.topicsDir());
    assertEquals(1000, c.flushSize());
    assertEquals(10_000L, c.rotateIntervalMs());
    assertEquals("s3cr3t-value", c.secretAccessKey());
  }

  @Test
  void rangesAndFormatsAreValidated() {
    for (String[] bad : new String[][] {
        {"flush.size", "0"}, {"rotate.interval.ms", "10"}, {"aws.s3.bucket.name", "Bad_Bucket"},
        {"aws.s3.endpoint", "127.0.0.1:15000"}, {"aws.secret.access.key", ""}, {"aws.access.key.id", ""}}) {
      Map<String, String> p = minimal();
      p.put(bad[0], bad[1]);
      assertThrows(ConfigException.class, () -> new S3SinkConfig(p), bad[0] + "=" + bad[1]);
    }
  }

  @Test
  void endpointPathStyleAndTopicsDirSlashes() {
    Map<String, String> p = minimal();
    p.put("aws.s3.endpoint", "http://127.0.0.1:15000");
    p.put("aws.s3.path.style.access.enabled", "true");
    p.put("topics.dir", "/archive/cdc/");
    S3SinkConfig c = new S3SinkConfig(p);
    assertEquals("http://127.0.0.1:15000", c.endpoint());
    assertEquals("archive/cdc", c.topicsDir());
  }

  @Test
  void secretIsHiddenWhenTheConfigIsPrinted() {
    assertFalse(new S3SinkConfig(minimal()).toString().contains("s3cr3t-value"));
  }
}
