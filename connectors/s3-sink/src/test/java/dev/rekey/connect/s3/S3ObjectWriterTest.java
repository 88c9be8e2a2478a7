package dev.rekey.connect.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.errors.RetriableException;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.s3.model.S3Exception;

class S3ObjectWriterTest {
  private static S3Exception s3(int status, String code, String message) {
    return (S3Exception) S3Exception.builder().statusCode(status).requestId("req-1")
        .awsErrorDetails(AwsErrorDetails.builder().errorCode(code).errorMessage(message).build()).build();
  }

  @Test
  void accessDeniedFailsTheTaskNamingS3sCode() {
    ConnectException e = S3ObjectWriter.translate("PutObject s3://b/k", s3(403, "AccessDenied", "Access Denied"));
    assertFalse(e instanceof RetriableException);
    assertEquals("S3 PutObject s3://b/k failed: HTTP 403 AccessDenied: Access Denied (request id req-1)", e.getMessage());
  }

  @Test
  void otherClientErrorsAreNotRetried() {
    assertFalse(S3ObjectWriter.translate("op", s3(403, "InvalidAccessKeyId", "no such key")) instanceof RetriableException);
    assertFalse(S3ObjectWriter.translate("op", s3(404, "NoSuchBucket", "gone")) instanceof RetriableException);
  }

  @Test
  void serverErrorsThrottlingAndIoAreRetried() {
    assertInstanceOf(RetriableException.class, S3ObjectWriter.translate("op", s3(500, "InternalError", "x")));
    assertInstanceOf(RetriableException.class, S3ObjectWriter.translate("op", s3(503, "SlowDown", "x")));
    assertInstanceOf(RetriableException.class, S3ObjectWriter.translate("op", s3(429, "TooManyRequests", "x")));
    ConnectException io = S3ObjectWriter.translate("op",
        SdkClientException.create("Unable to execute HTTP request", new IOException("Connection refused")));
    assertInstanceOf(RetriableException.class, io);
    assertTrue(io.getMessage().contains("Unable to execute HTTP request"));
  }

  @Test
  void nonIoClientErrorsAreNotRetried() {
    assertFalse(S3ObjectWriter.translate("op", SdkClientException.create("bad request")) instanceof RetriableException);
  }
}
