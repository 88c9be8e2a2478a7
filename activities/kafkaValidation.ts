import { Kafka } from 'kafkajs';
import { checklist } from '../contracts/checklist.js';
import { runCheck, skip, verdict, type CheckResult } from './checks.js';
import { kafkaClientConfig, type KafkaDeps, type KafkaSaslMechanism } from './kafkaClient.js';
import type { KafkaPrincipal } from './kafkaPrincipals.js';
import type { SecretStore } from './secrets/store.js';
import { handshake } from './tls/handshake.js';

const lines = checklist.kafka;

/**
 * The secured Kafka of the platform plan, read only: rekey's own login on the SASL_SSL
 * listener, the certificate each broker serves (chain and host name, against the CA rekey is
 * configured with), and the Connect worker's principal (its SCRAM credential and ACLs).
 */
export function createKafkaValidation(deps: {
  store: SecretStore;
  kafka: KafkaDeps;
  describeKafkaPrincipal: (input: { secret: string; mechanism: KafkaSaslMechanism }) => Promise<KafkaPrincipal>;
}) {
  const sasl = deps.kafka.sasl;
  const brokers = deps.kafka.brokers.join(',');

  async function login() {
    if (!sasl) return skip('rekey is configured without SASL (kafka.sasl, REKEY_KAFKA_SASL_SECRET)');
    const admin = new Kafka({
      ...(await kafkaClientConfig(deps.kafka, deps.store, 'rekey-validate')()),
      retry: { retries: 1 },
    }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      const user = (await deps.store.read(sasl.secret))?.data.username ?? '?';
      return verdict(true, `User:${user} authenticated (${sasl.mechanism}); ${cluster.brokers.length} broker(s)`);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async function servedCertificates() {
    if (!deps.kafka.ssl && !sasl) return skip('rekey reaches Kafka without TLS (kafka.ssl / kafka.sasl unset)');
    const ca = deps.kafka.ssl?.caPem;
    const caPem = typeof ca === 'function' ? ca() : ca;
    const seen: string[] = [];
    let ok = true;
    for (const address of deps.kafka.brokers) {
      const at = address.lastIndexOf(':');
      const host = address.slice(0, at).replace(/^\[|\]$/g, '');
      const served = await handshake({
        host,
        port: Number(address.slice(at + 1)),
        protocol: 'tls',
        servername: host,
        caPem,
      });
      ok &&= served.problem === null || (!caPem && served.hostnameOk);
      seen.push(
        `${address}: ${served.subject}, until ${served.notAfter}${served.problem ? ` (${served.problem})` : ''}`,
      );
    }
    return verdict(ok, seen.join('; '));
  }

  async function connectPrincipal(secret: string) {
    const p = await deps.describeKafkaPrincipal({ secret, mechanism: sasl?.mechanism ?? 'SCRAM-SHA-512' });
    return verdict(
      p.scram && p.acls.length > 0,
      `User:${p.user}: ${p.scram ? 'SCRAM credential' : 'no SCRAM credential'}, ${p.acls.length} ACL binding(s)`,
    );
  }

  async function validateKafka(input: { principalSecret: string }): Promise<CheckResult[]> {
    return Promise.all([
      runCheck('kafka', lines.login, `SASL login on ${brokers}`, 'accepted', login),
      runCheck(
        'kafka',
        lines.tls,
        `TLS handshake with ${brokers}`,
        'a certificate the CA trusts, naming the host',
        servedCertificates,
      ),
      runCheck(
        'kafka',
        lines.principal,
        `DescribeUserScramCredentials and DescribeAcls for the user in ${input.principalSecret}`,
        'a SCRAM credential and at least one ACL binding',
        () => connectPrincipal(input.principalSecret),
      ),
    ]);
  }

  return { validateKafka };
}
