#!/usr/bin/env bash
# Resolves Kafka, Kafka Connect, the Debezium PostgreSQL plugin, Strimzi's Kubernetes
# config provider and Apicurio Registry
# from Maven Central into a version-keyed cache outside the checkout.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${REKEY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rekey}"
KAFKA=4.3.1; REV=r2;  # REV: bump when the classpath layout changes
 DEBEZIUM=3.6.3.Final; APICURIO=3.3.3; TESTSERVER=1.31.0; STRIMZI_PROVIDER=1.2.0; APICURIO_CONVERTER=2.6.13.Final
command -v mvn >/dev/null || { echo "install-jvm: Maven not found (apt-get install maven)" >&2; exit 1; }
command -v java >/dev/null || { echo "install-jvm: Java 17 not found (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
MVN=(mvn -B -q -f "$HERE/maven/pom.xml")

classpath() { # profile dest
  local dest="$1-$2${3:+-$3}"
  [ -d "$CACHE/$dest/libs" ] && return 0
  echo "install-jvm: resolving $1 $2 from Maven Central" >&2
  rm -rf "$CACHE/$dest.tmp"
  "${MVN[@]}" -P "$1" package -Dout="$CACHE/$dest.tmp" >&2
  rm -rf "$CACHE/$dest"; mv "$CACHE/$dest.tmp" "$CACHE/$dest"
}
archive() { # artifact(g:a:v:type:classifier) dest
  local dest="$CACHE/$2"
  [ -d "$dest" ] && return 0
  echo "install-jvm: fetching $1" >&2
  rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
  "${MVN[@]}" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:unpack \
    -Dartifact="$1" -DoutputDirectory="$dest.tmp" >&2
  rm -rf "$dest"; mv "$dest.tmp" "$dest"
}
mkdir -p "$CACHE"
classpath kafka "$KAFKA" "$REV"
classpath connect "$KAFKA" "$REV"
# Kafka's basic-auth REST extension: Connect's REST API asks for a password (the platform plan)
classpath connect-basic-auth "$KAFKA"
# Strimzi's Kubernetes config providers, loaded by Connect from plugin.path (isolated jackson)
classpath strimzi "$STRIMZI_PROVIDER"
# Prometheus' JMX exporter agent on Connect (the shipped metrics config is scraped in a test)
classpath jmx-exporter 1.0.1
# Apicurio's Avro converter: the CDC connector serializes through the registry
classpath apicurio-converter "$APICURIO_CONVERTER"
[ -d "$CACHE/rekey-s3-sink-0.1.0/libs" ] || { echo "install-jvm: building rekey-s3-sink 0.1.0 (connectors/s3-sink, our S3 sink plugin)" >&2; rm -rf "$CACHE/rekey-s3-sink-0.1.0.tmp"; mvn -B -q -f "$HERE/../../connectors/s3-sink/pom.xml" package -DskipTests -Dout="$CACHE/rekey-s3-sink-0.1.0.tmp" >&2; rm -rf "$CACHE/rekey-s3-sink-0.1.0"; mv "$CACHE/rekey-s3-sink-0.1.0.tmp" "$CACHE/rekey-s3-sink-0.1.0"; }
archive "io.debezium:debezium-connector-postgres:$DEBEZIUM:tar.gz:plugin" "debezium-postgres-$DEBEZIUM"
archive "io.apicurio:apicurio-registry-app:$APICURIO:tar.gz:all" "apicurio-registry-$APICURIO"
classpath testserver "$TESTSERVER"
# The TypeScript SDK starts an `existing-path` test server as `<path> <port> [args]`.
wrapper="$CACHE/testserver-$TESTSERVER/temporal-test-server"
if [ ! -x "$wrapper" ]; then
  printf '#!/bin/sh\nexec java -Xmx512m -cp "%s/*" io.temporal.testserver.TestServer "$@"\n' "$CACHE/testserver-$TESTSERVER/libs" > "$wrapper"
  chmod +x "$wrapper"
fi
echo "$CACHE"
