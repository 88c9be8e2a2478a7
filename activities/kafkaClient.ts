import { ApplicationFailure } from '@temporalio/activity';
import { logLevel, type KafkaConfig } from 'kafkajs';
import type { SecretStore } from './secrets/store.js';

/** SCRAM mechanisms rekey's Kafka clients speak, as Kafka names them. */
export const kafkaSaslMechanisms = ['SCRAM-SHA-512', 'SCRAM-SHA-256'] as const;
export type KafkaSaslMechanism = (typeof kafkaSaslMechanisms)[number];

/** The keys of a SCRAM principal's secret (the Connect worker's, rekey's own). */
export const SCRAM_SECRET_KEYS = { username: 'username', password: 'password' } as const;

/**
 * How rekey reaches Kafka: the brokers and, on a secured listener, TLS (`ssl`: the CA bundle,
 * or a reader of it; absent: the system roots) and SASL/SCRAM as the principal in `sasl.secret`.
 */
export interface KafkaDeps {
  brokers: string[];
  tls?: { brokers: string[]; listener: string };
  ssl?: { caPem?: string | (() => string) };
  sasl?: { mechanism: KafkaSaslMechanism; secret: string };
  /** The brokers' authorizer log (`file:` or `pods:`), the broker-side proof of a SCRAM switch. */
  authorizerLog?: string;
}

/**
 * The kafkajs settings of one connection, built when it opens: the principal's password is
 * read from the secret store then, so a rotated rekey credential is used by the next
 * connection without a worker restart. A missing or incomplete secret is a non-retryable
 * failure that names the secret and the keys, never a value.
 */
export function kafkaClientConfig(
  deps: KafkaDeps,
  store: SecretStore | undefined,
  clientId = 'rekey-worker',
): () => Promise<KafkaConfig> {
  return async () => {
    const base: KafkaConfig = { clientId, brokers: deps.brokers, logLevel: logLevel.NOTHING };
    const tls = deps.ssl || deps.sasl ? tlsOptions(deps.ssl?.caPem) : undefined;
    if (!deps.sasl) return tls ? { ...base, ssl: tls } : base;
    if (!store) throw new Error('Kafka SASL needs the secret store');
    const secret = await store.read(deps.sasl.secret);
    const username = secret?.data[SCRAM_SECRET_KEYS.username];
    const password = secret?.data[SCRAM_SECRET_KEYS.password];
    if (!username || !password)
      throw ApplicationFailure.nonRetryable(
        `secret ${deps.sasl.secret} ${secret ? `lacks ${SCRAM_SECRET_KEYS.username} or ${SCRAM_SECRET_KEYS.password}` : 'does not exist'} (rekey's Kafka principal, kafka.sasl.secret)`,
        'KafkaCredentialMissing',
      );
    const sasl =
      deps.sasl.mechanism === 'SCRAM-SHA-512'
        ? { mechanism: 'scram-sha-512' as const, username, password }
        : { mechanism: 'scram-sha-256' as const, username, password };
    return { ...base, ssl: tls ?? true, sasl };
  };
}

function tlsOptions(caPem: string | (() => string) | undefined): true | { ca: string[] } {
  if (!caPem) return true;
  return { ca: [typeof caPem === 'function' ? caPem() : caPem] };
}
