package dev.rekey.connect.s3;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.sink.SinkRecord;

/**
 * Renders a record as one JSON line:
 * {@code {"topic":…,"partition":…,"offset":…,"timestamp":…|null,"key":…,"value":…}}.
 * Key and value go through Connect's own JsonConverter (shipped with the worker), so Structs,
 * maps, arrays, logical types and nulls render the way Connect users already know, without an
 * envelope: schemas.enable=false.
 */
final class JsonLines {
  private static final byte[] NULL = "null".getBytes(StandardCharsets.US_ASCII);

  private final JsonConverter json = new JsonConverter();
  private final Map<String, byte[]> quotedTopics = new HashMap<>();

  JsonLines() {
    json.configure(Map.of(
        "schemas.enable", "false",
        // decimals as JSON numbers (CDC's numeric columns), not base64 of the unscaled bytes
        "decimal.format", "NUMERIC",
        // a NULL column stays null even when its schema has a default: we archive what was sent
        "replace.null.with.default", "false"), false);
  }

  /** The record's line, newline included; built apart so a rendering error leaves no half line behind. */
  byte[] line(SinkRecord r) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    ascii(out, "{\"topic\":");
    // topic names are [a-zA-Z0-9._-] in Kafka, but quoting through the converter costs nothing
    out.writeBytes(quotedTopics.computeIfAbsent(r.topic(), t -> json.fromConnectData(t, Schema.STRING_SCHEMA, t)));
    ascii(out, ",\"partition\":" + r.kafkaPartition());
    ascii(out, ",\"offset\":" + r.kafkaOffset());
    ascii(out, ",\"timestamp\":" + (r.timestamp() == null ? "null" : r.timestamp().toString()));
    ascii(out, ",\"key\":");
    out.writeBytes(render(r.topic(), r.keySchema(), r.key()));
    ascii(out, ",\"value\":");
    out.writeBytes(render(r.topic(), r.valueSchema(), r.value()));
    ascii(out, "}\n");
    return out.toByteArray();
  }

  private byte[] render(String topic, Schema schema, Object value) {
    byte[] bytes = json.fromConnectData(topic, schema, value); // null for a null without schema
    return bytes == null ? NULL : bytes;
  }

  private static void ascii(ByteArrayOutputStream out, String s) {
    out.writeBytes(s.getBytes(StandardCharsets.US_ASCII));
  }
}
