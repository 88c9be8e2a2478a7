package dev.rekey.connect.s3;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.errors.RetriableException;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.ApiCallTimeoutException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;

/**
 * PutObject through the AWS SDK v2, with S3's answers turned into Connect's two kinds of failure:
 * 5xx, throttling and I/O are {@link RetriableException} (Connect re-delivers the batch and we
 * upload the same object again), any other 4xx is a {@link ConnectException} that fails the task,
 * so a revoked or mistyped key (403 AccessDenied / InvalidAccessKeyId / SignatureDoesNotMatch)
 * shows as a FAILED task whose trace names S3's error code. Messages carry the status, S3's code
 * and message and the request id; the SDK never puts the secret key in any of them.
 */
final class S3ObjectWriter implements ObjectWriter, AutoCloseable {
  private final S3Client s3;
  private final String bucket;

  S3ObjectWriter(S3Client s3, String bucket) {
    this.s3 = s3;
    this.bucket = bucket;
  }

  static S3ObjectWriter create(S3SinkConfig config) {
    S3ClientBuilder builder = S3Client.builder()
        // the JDK's HttpURLConnection: no Netty/Apache jars in the plugin
        .httpClientBuilder(UrlConnectionHttpClient.builder())
        .region(Region.of(config.region()))
        // the keys from the config, never the default chain: the worker's environment or
        // instance profile must not silently stand in for a key that was rotated away
        .credentialsProvider(StaticCredentialsProvider.create(
            AwsBasicCredentials.create(config.accessKeyId(), config.secretAccessKey())))
        .forcePathStyle(config.pathStyle());
    if (!config.endpoint().isEmpty()) builder.endpointOverride(URI.create(config.endpoint()));
    return new S3ObjectWriter(builder.build(), config.bucket());
  }

  @Override
  public void write(String key, byte[] body) {
    PutObjectRequest request = PutObjectRequest.builder()
        .bucket(bucket).key(key).contentType("application/x-ndjson").build();
    try {
      s3.putObject(request, RequestBody.fromBytes(body));
    } catch (SdkException e) {
      throw translate("PutObject s3://" + bucket + "/" + key, e);
    }
  }

  /** The SDK has already retried transient failures (its standard strategy) when this runs. */
  static ConnectException translate(String operation, SdkException e) {
    if (e instanceof AwsServiceException service) {
      int status = service.statusCode();
      AwsErrorDetails details = service.awsErrorDetails();
      String code = details == null || details.errorCode() == null ? "unknown" : details.errorCode();
      String text = details == null || details.errorMessage() == null ? "" : ": " + details.errorMessage();
      String message = "S3 " + operation + " failed: HTTP " + status + " " + code + text
          + " (request id " + service.requestId() + ")";
      if (status >= 500 || status == 429 || service.isThrottlingException()) {
        return new RetriableException(message, e);
      }
      return new ConnectException(message, e);
    }
    String message = "S3 " + operation + " failed: " + e.getMessage();
    if (e instanceof ApiCallTimeoutException || e instanceof ApiCallAttemptTimeoutException || causedByIo(e)) {
      return new RetriableException(message, e);
    }
    // a client-side error that is not I/O (bad request built, SDK misconfigured): retrying
    // the same call would fail the same way
    return new ConnectException(message, e);
  }

  private static boolean causedByIo(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof IOException || t instanceof UncheckedIOException) return true;
    }
    return false;
  }

  @Override
  public void close() {
    s3.close();
  }
}
