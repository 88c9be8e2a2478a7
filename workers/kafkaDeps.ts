import type { KafkaDeps } from '../activities/kafkaClient.js';
import type { WorkerConfig } from './config.js';
import { caBundleReader } from './tlsConfig.js';

/** rekey's Kafka clients as configured: TLS (the CA file re-read per connection) whenever SSL or SASL is on. */
export function kafkaClientDeps(kafka: WorkerConfig['kafka']): KafkaDeps {
  return {
    brokers: kafka.brokers,
    tls: kafka.tls,
    ssl: kafka.ssl || kafka.sasl ? { caPem: caBundleReader(kafka.caFile) } : undefined,
    sasl: kafka.sasl,
    authorizerLog: kafka.authorizerLog,
  };
}
