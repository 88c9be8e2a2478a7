package dev.rekey.connect.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.connect.data.Decimal;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.sink.SinkRecord;
import org.junit.jupiter.api.Test;

class JsonLinesTest {
  private final JsonLines lines = new JsonLines();

  // shaped like a Debezium change event: nested optional before/after, a decimal, an array
  private static final Schema ROW = SchemaBuilder.struct().name("users.Value").optional()
      .field("id", Schema.INT32_SCHEMA)
      .field("email", Schema.OPTIONAL_STRING_SCHEMA)
      .field("balance", Decimal.builder(2).optional().build())
      .field("tags", SchemaBuilder.array(Schema.STRING_SCHEMA).optional().build())
      .field("nickname", SchemaBuilder.string().optional().defaultValue("none").build())
      .build();
  private static final Schema ENVELOPE = SchemaBuilder.struct().name("users.Envelope")
      .field("before", ROW).field("after", ROW)
      .field("op", Schema.STRING_SCHEMA)
      .field("ts_ms", Schema.OPTIONAL_INT64_SCHEMA)
      .build();
  private static final Schema KEY = SchemaBuilder.struct().field("id", Schema.INT32_SCHEMA).build();

  private String line(SinkRecord r) {
    return new String(lines.line(r), StandardCharsets.UTF_8);
  }

  @Test
  void structWithNestedFieldsAndNulls() {
    Struct after = new Struct(ROW).put("id", 7).put("email", "a\"b@example.com\n")
        .put("balance", new BigDecimal("12.30")).put("tags", List.of("x", "y"));
    // nickname left null although its schema has a default: stays null
    Struct value = new Struct(ENVELOPE).put("after", after).put("op", "c");
    SinkRecord r = new SinkRecord("cdc.public.users", 2, KEY, new Struct(KEY).put("id", 7), ENVELOPE, value,
        41L, 1764142862123L, TimestampType.CREATE_TIME);
    assertEquals("{\"topic\":\"cdc.public.users\",\"partition\":2,\"offset\":41,\"timestamp\":1764142862123,"
        + "\"key\":{\"id\":7},"
        + "\"value\":{\"before\":null,\"after\":{\"id\":7,\"email\":\"a\\\"b@example.com\\n\",\"balance\":12.30,"
        + "\"tags\":[\"x\",\"y\"],\"nickname\":null},\"op\":\"c\",\"ts_ms\":null}}\n", line(r));
  }

  @Test
  void tombstoneAndMissingTimestampAreJsonNull() {
    SinkRecord r = new SinkRecord("t", 0, KEY, new Struct(KEY).put("id", 1), null, null, 5L);
    assertEquals("{\"topic\":\"t\",\"partition\":0,\"offset\":5,\"timestamp\":null,\"key\":{\"id\":1},\"value\":null}\n",
        line(r));
  }

  @Test
  void schemalessMapsListsAndPrimitives() {
    SinkRecord r = new SinkRecord("t", 1, null, "k1", null, Map.of("n", List.of(1, 2.5, true)), 6L, 0L,
        TimestampType.LOG_APPEND_TIME);
    assertEquals("{\"topic\":\"t\",\"partition\":1,\"offset\":6,\"timestamp\":0,\"key\":\"k1\","
        + "\"value\":{\"n\":[1,2.5,true]}}\n", line(r));
  }

  @Test
  void bytesBecomeBase64() {
    SinkRecord r = new SinkRecord("t", 0, Schema.BYTES_SCHEMA, new byte[] {1, 2, 3}, Schema.OPTIONAL_STRING_SCHEMA,
        null, 0L);
    assertEquals("{\"topic\":\"t\",\"partition\":0,\"offset\":0,\"timestamp\":null,\"key\":\"AQID\",\"value\":null}\n",
        line(r));
  }
}
