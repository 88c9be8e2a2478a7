package dev.rekey.connect.s3;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.sink.SinkConnector;

/**
 * Writes the records of its topics to S3 as newline-delimited JSON. Every task gets the same
 * settings: Kafka's consumer group spreads the topic-partitions, and each task keeps its own
 * buffers per partition, so the connector itself has nothing to divide.
 */
public class S3SinkConnector extends SinkConnector {
  private Map<String, String> props;

  @Override
  public void start(Map<String, String> props) {
    new S3SinkConfig(props); // fail the connector, not each task, on a bad config
    this.props = Map.copyOf(props);
  }

  @Override
  public Class<? extends Task> taskClass() {
    return S3SinkTask.class;
  }

  @Override
  public List<Map<String, String>> taskConfigs(int maxTasks) {
    return Collections.nCopies(maxTasks, props);
  }

  @Override
  public void stop() {
    // no resources: the tasks own the S3 clients
  }

  @Override
  public ConfigDef config() {
    return S3SinkConfig.CONFIG_DEF;
  }

  @Override
  public String version() {
    return version(getClass());
  }

  /** From the jar manifest (maven-jar-plugin), so the version lives only in the pom. */
  static String version(Class<?> c) {
    String v = c.getPackage().getImplementationVersion();
    return v == null ? "unknown" : v;
  }
}
