import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { StackConfig } from './config.js';
import { execFileAsync, runInstaller, spawnDetached, StackError, stopPid, waitFor } from './proc.js';
import { installScript, logPath, type Service } from './service.js';
import { ensureStackCertificates, kafkaTlsFiles, writeKafkaTlsFiles } from './tls.js';
import { fastJvmStart } from './jvmStart.js';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { CERT_KEYS } from '../../activities/tls/index.js';
import { pipeline } from './config.js';
import {
  ensureKafkaPrincipals,
  KAFKA_SASL_LISTENER,
  kafkaCaFile,
  kafkaSaslBootstrap,
  writeKafkaCaFile,
} from './kafkaPrincipals.js';

export const kafkaBootstrap = (cfg: StackConfig) => `127.0.0.1:${cfg.ports.kafka}`;
/** The TLS listener beside the plaintext one: server TLS only (no client certificates), PEM keystore from the `kafka-tls` secret. */
export const kafkaTlsBootstrap = (cfg: StackConfig) => `127.0.0.1:${cfg.ports.kafkaTls}`;
export const KAFKA_TLS_LISTENER = 'SSL';

/** Writes a log4j2 config that sends everything to the service's log file. */
export function writeLog4j(cfg: StackConfig, name: string): string {
  const file = path.join(cfg.dataDir, `${name}-log4j2.properties`);
  fs.writeFileSync(
    file,
    [
      'rootLogger.level = INFO',
      'rootLogger.appenderRef.out.ref = out',
      'appender.out.type = Console',
      'appender.out.name = out',
      'appender.out.layout.type = PatternLayout',
      'appender.out.layout.pattern = [%d] %p %m (%c{1})%n',
      'logger.kafka.name = org.apache.kafka',
      'logger.kafka.level = WARN',
      'logger.kafkaserver.name = kafka',
      'logger.kafkaserver.level = WARN',
      'logger.connect.name = org.apache.kafka.connect.runtime',
      'logger.connect.level = INFO',
      'logger.debezium.name = io.debezium',
      'logger.debezium.level = INFO',
      ...(name === 'kafka' ? authorizerLog(cfg) : []),
      '',
    ].join('\n'),
  );
  return file;
}

/** Where the broker writes its authorizer's decisions (the SCRAM rotation's broker-side proof). */
export const kafkaAuthorizerLogPath = (cfg: StackConfig) => path.join(cfg.logDir, 'kafka-authorizer.log');

/**
 * The broker's authorizer decisions, one line per request with the principal (allowed at
 * DEBUG), in a file of their own, rolled at 64 MB. Strimzi sets the same logger in the Kafka
 * resource's `logging`.
 */
function authorizerLog(cfg: StackConfig): string[] {
  const file = kafkaAuthorizerLogPath(cfg);
  return [
    'appender.authorizer.type = RollingFile',
    'appender.authorizer.name = authorizer',
    `appender.authorizer.fileName = ${file}`,
    `appender.authorizer.filePattern = ${file}.%i`,
    'appender.authorizer.layout.type = PatternLayout',
    'appender.authorizer.layout.pattern = [%d] %p %m%n',
    'appender.authorizer.policies.type = Policies',
    'appender.authorizer.policies.size.type = SizeBasedTriggeringPolicy',
    'appender.authorizer.policies.size.size = 64MB',
    'appender.authorizer.strategy.type = DefaultRolloverStrategy',
    'appender.authorizer.strategy.max = 1',
    'logger.authorizer.name = kafka.authorizer.logger',
    'logger.authorizer.level = DEBUG',
    'logger.authorizer.additivity = false',
    'logger.authorizer.appenderRef.authorizer.ref = authorizer',
  ];
}

export function javaArgs(cfg: StackConfig, name: string, heap: string, classpath: string): string[] {
  return [
    `-Xms${heap}`,
    `-Xmx${heap}`,
    '-XX:+UseSerialGC',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${writeLog4j(cfg, name)}`,
    '-cp',
    classpath,
  ];
}

/**
 * The TLS listener's static settings. The keystore location is the one rekey re-sets through
 * the Admin API (per-broker dynamic config, KIP-226) after a new certificate is installed: the
 * broker reloads the file when it changed. Kafka refuses a reloaded certificate whose subject
 * or SANs differ unless `ssl.allow.dn.changes` / `ssl.allow.san.changes` are set: a renewal
 * keeps both (rekey's default).
 */
function tlsListenerProperties(
  cfg: StackConfig,
  listener: string = KAFKA_TLS_LISTENER,
  keystore: string = kafkaTlsFiles(cfg).keystore,
): string[] {
  const prefix = `listener.name.${listener.toLowerCase()}`;
  return [
    `${prefix}.ssl.keystore.type=PEM`,
    `${prefix}.ssl.keystore.location=${keystore}`,
    `${prefix}.ssl.client.auth=none`,
  ];
}

/**
 * The SASL_SSL listener's own copy of the keystore, made at start. A keystore reload through
 * the Admin API makes every listener whose keystore file changed reload it; sharing the SSL
 * listener's file, this one would start serving a certificate from a new CA (a CA rotation)
 * that its clients, which loaded their truststore at start, do not trust yet. Rotating this
 * listener's certificate is not built: it keeps the one it started with.
 */
function saslKeystore(cfg: StackConfig): string {
  const copy = path.join(path.dirname(kafkaCaFile(cfg)), 'keystore.pem');
  fs.copyFileSync(kafkaTlsFiles(cfg).keystore, `${copy}.tmp`);
  fs.chmodSync(`${copy}.tmp`, 0o600);
  fs.renameSync(`${copy}.tmp`, copy);
  return copy;
}

/**
 * The platform plan's listener: SCRAM-SHA-512 over TLS, with the standard authorizer. Only
 * this listener enforces principals and ACLs: the plaintext and server-TLS listeners are
 * loopback-only and unauthenticated, so their clients are ANONYMOUS, a super user (the
 * stack's own tooling, the registry's kafkasql store, tests' independent clients). A real
 * cluster (Strimzi) has no such listener; README, "The secured stack".
 */
function saslListenerProperties(cfg: StackConfig): string[] {
  const prefix = `listener.name.${KAFKA_SASL_LISTENER.toLowerCase()}`;
  return [
    ...tlsListenerProperties(cfg, KAFKA_SASL_LISTENER, saslKeystore(cfg)),
    'sasl.enabled.mechanisms=SCRAM-SHA-512',
    `${prefix}.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users=User:ANONYMOUS',
    'allow.everyone.if.no.acl.found=false',
  ];
}

/** Kafka 4 in KRaft mode, one node acting as broker and controller. */
export const kafka: Service = {
  name: 'kafka',
  url: (cfg) => kafkaBootstrap(cfg),
  extra: (cfg) => ({ tls: kafkaTlsBootstrap(cfg), sasl: kafkaSaslBootstrap(cfg) }),
  ports: (cfg) => [cfg.ports.kafka, cfg.ports.kafkaController, cfg.ports.kafkaTls, cfg.ports.kafkaSasl],

  async install(cfg) {
    await runInstaller('kafka', installScript('install-jvm.sh'), { REKEY_CACHE: cfg.cache });
  },

  async start(cfg) {
    await ensureStackCertificates(cfg);
    const store = new FileSecretStore(cfg.secretsDir);
    await writeKafkaTlsFiles(cfg, store);
    writeKafkaCaFile(cfg, (await store.read(pipeline.kafkaTlsSecret))!.data[CERT_KEYS.ca]!);
    const dir = path.join(cfg.dataDir, 'kafka');
    const logs = path.join(dir, 'logs');
    fs.mkdirSync(dir, { recursive: true });
    const props = path.join(dir, 'server.properties');
    fs.writeFileSync(
      props,
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${cfg.ports.kafkaController}`,
        `listeners=PLAINTEXT://127.0.0.1:${cfg.ports.kafka},CONTROLLER://127.0.0.1:${cfg.ports.kafkaController},${KAFKA_TLS_LISTENER}://127.0.0.1:${cfg.ports.kafkaTls},${KAFKA_SASL_LISTENER}://127.0.0.1:${cfg.ports.kafkaSasl}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${cfg.ports.kafka},${KAFKA_TLS_LISTENER}://127.0.0.1:${cfg.ports.kafkaTls},${KAFKA_SASL_LISTENER}://127.0.0.1:${cfg.ports.kafkaSasl}`,
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,${KAFKA_TLS_LISTENER}:SSL,${KAFKA_SASL_LISTENER}:SASL_SSL`,
        ...tlsListenerProperties(cfg),
        ...saslListenerProperties(cfg),
        `log.dirs=${logs}`,
        'num.partitions=1',
        'offsets.topic.replication.factor=1',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'share.coordinator.state.topic.replication.factor=1',
        'share.coordinator.state.topic.min.isr=1',
        'group.initial.rebalance.delay.ms=0',
        'auto.create.topics.enable=true',
        '',
      ].join('\n'),
    );
    const classpath = path.join(cfg.cache, `kafka-${cfg.versions.kafka}-r2`, 'libs', '*');
    const log = logPath(cfg, 'kafka');
    if (!fs.existsSync(path.join(logs, 'meta.properties'))) {
      // base64url may start with '-': passed as --cluster-id=… so the argument parser never takes it for an option
      const clusterId = randomBytes(16).toString('base64url');
      try {
        await execFileAsync('java', [
          ...javaArgs(cfg, 'kafka-format', '256m', classpath),
          'kafka.tools.StorageTool',
          'format',
          `--cluster-id=${clusterId}`,
          '-c',
          props,
        ]);
      } catch (err) {
        throw new StackError(
          'kafka',
          `storage format failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`,
          log,
        );
      }
    }
    const pid = spawnDetached({
      name: 'kafka',
      command: 'java',
      args: [
        ...fastJvmStart(cfg, `kafka-${cfg.versions.kafka}`, 'java'),
        ...javaArgs(cfg, 'kafka', '512m', classpath),
        'kafka.Kafka',
        props,
      ],
      runDir: cfg.runDir,
      logPath: log,
    });
    await waitFor('kafka', () => kafka.healthy(cfg), { timeoutMs: 90_000, logPath: log, pid });
    await ensureKafkaPrincipals(cfg, [kafkaBootstrap(cfg)]);
  },

  async healthy(cfg) {
    const admin = new Kafka({
      clientId: 'rekey-health',
      brokers: [kafkaBootstrap(cfg)],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      connectionTimeout: 2000,
    }).admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0;
    } finally {
      await admin.disconnect();
    }
  },

  async stop(cfg) {
    await stopPid(cfg.runDir, 'kafka', 30_000);
  },
};
