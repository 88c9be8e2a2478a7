package dev.rekey.connect.s3;

import java.net.URI;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Range;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.types.Password;

/**
 * The connector's settings, named as in the common S3 sinks so operators recognise them.
 * The keys usually arrive through a config provider ({@code ${dir:…}}, {@code ${secrets:…}}):
 * the worker resolves them before we see them, so here they are plain values.
 */
public final class S3SinkConfig extends AbstractConfig {
  public static final String ACCESS_KEY_ID = "aws.access.key.id";
  public static final String SECRET_ACCESS_KEY = "aws.secret.access.key";
  public static final String BUCKET = "aws.s3.bucket.name";
  public static final String REGION = "aws.s3.region";
  public static final String ENDPOINT = "aws.s3.endpoint";
  public static final String PATH_STYLE = "aws.s3.path.style.access.enabled";
  public static final String TOPICS_DIR = "topics.dir";
  public static final String FLUSH_SIZE = "flush.size";
  public static final String ROTATE_INTERVAL_MS = "rotate.interval.ms";

  // S3's bucket naming rules (3–63 chars, lower case, digits, dots, hyphens): a typo fails at
  // validation instead of as a 400 on the first upload.
  private static final Pattern BUCKET_NAME = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");

  public static final ConfigDef CONFIG_DEF = new ConfigDef()
      .define(ACCESS_KEY_ID, Type.STRING, ConfigDef.NO_DEFAULT_VALUE, new ConfigDef.NonEmptyString(),
          Importance.HIGH, "Access key id of the IAM user that writes the objects.")
      // PASSWORD: shown as [hidden] in logs, AbstractConfig.toString and the REST validate answer
      .define(SECRET_ACCESS_KEY, Type.PASSWORD, ConfigDef.NO_DEFAULT_VALUE, S3SinkConfig::requirePassword,
          Importance.HIGH, "Secret access key of that user (use a config provider, not the literal).")
      .define(BUCKET, Type.STRING, ConfigDef.NO_DEFAULT_VALUE, S3SinkConfig::requireBucketName,
          Importance.HIGH, "Bucket the objects are written to.")
      .define(REGION, Type.STRING, "us-east-1", new ConfigDef.NonEmptyString(),
          Importance.MEDIUM, "Region of the bucket (the signing region when an endpoint is set).")
      .define(ENDPOINT, Type.STRING, "", S3SinkConfig::requireHttpUrlOrEmpty,
          Importance.LOW, "S3 endpoint URL, for S3-compatible stores and emulators; empty = AWS.")
      .define(PATH_STYLE, Type.BOOLEAN, false,
          Importance.LOW, "Address the bucket in the path (http://host/bucket/key), as emulators need.")
      .define(TOPICS_DIR, Type.STRING, "topics", new ConfigDef.NonEmptyString(),
          Importance.MEDIUM, "Key prefix under which each topic gets its folder.")
      .define(FLUSH_SIZE, Type.INT, 1000, Range.between(1, 1_000_000),
          Importance.MEDIUM, "Records per topic-partition after which an object is written.")
      .define(ROTATE_INTERVAL_MS, Type.LONG, 10_000L, Range.between(100L, 86_400_000L),
          Importance.MEDIUM, "Wall-clock ms after a partition's first buffered record after which its "
              + "object is written even if smaller than flush.size. Checked on every put and offset commit.");

  public S3SinkConfig(Map<String, String> props) {
    super(CONFIG_DEF, props);
  }

  public String accessKeyId() { return getString(ACCESS_KEY_ID); }
  public String secretAccessKey() { return getPassword(SECRET_ACCESS_KEY).value(); }
  public String bucket() { return getString(BUCKET); }
  public String region() { return getString(REGION); }
  public String endpoint() { return getString(ENDPOINT).trim(); }
  public boolean pathStyle() { return getBoolean(PATH_STYLE); }
  public int flushSize() { return getInt(FLUSH_SIZE); }
  public long rotateIntervalMs() { return getLong(ROTATE_INTERVAL_MS); }

  /** Without leading/trailing slashes, so "topics/" and "/topics" give the same keys. */
  public String topicsDir() {
    String dir = getString(TOPICS_DIR).replaceAll("^/+|/+$", "");
    if (dir.isEmpty()) throw new ConfigException(TOPICS_DIR, getString(TOPICS_DIR), "must name a folder");
    return dir;
  }

  private static void requirePassword(String name, Object value) {
    if (value == null || ((Password) value).value().isEmpty()) {
      throw new ConfigException(name, "[hidden]", "must not be empty");
    }
  }

  private static void requireBucketName(String name, Object value) {
    if (value == null || !BUCKET_NAME.matcher((String) value).matches()) {
      throw new ConfigException(name, value, "not a valid S3 bucket name");
    }
  }

  private static void requireHttpUrlOrEmpty(String name, Object value) {
    String s = value == null ? "" : ((String) value).trim();
    if (s.isEmpty()) return;
    try {
      URI uri = new URI(s);
      if (("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null) return;
    } catch (Exception e) {
      // reported below
    }
    throw new ConfigException(name, value, "must be an http(s) URL such as http://127.0.0.1:15000");
  }
}
