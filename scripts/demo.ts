import { Command } from 'commander';
import path from 'node:path';
import { logToFile } from '../workers/logger.js';
import { createClient } from '../workers/client.js';
import { createEmbeddedWorker, embeddedWorkerConfig } from './lib/session.js';
import { rotateUnderLoad } from './lib/measure.js';
import { parseStore, upWithStore } from './lib/stores.js';
import { tlsDemo } from './lib/tlsDemo.js';
import { TLS_SERVICES, type TlsService } from '../contracts/input/certificate.js';
import { kafkaBootstrap } from './stack/kafka.js';

const program = new Command('demo')
  .description('a real PostgreSQL CDC credential rotation on the embedded stack, under insert load')
  .option('--json', 'print the summary as one JSON object on the last line')
  .option('--strategy <strategy>', 'reload-connector or restart-worker', 'reload-connector')
  .option('--grace <duration>', 'grace period before the old user is dropped (ISO-8601)', 'PT10S')
  .option('--rate <n>', 'inserts per second during the rotation', '50')
  .option(
    '--store <store>',
    'where the credential lives: file (quick) or kubernetes (Secrets read by Connect through the API; builds Kubernetes on first use)',
    'file',
  )
  .option(
    '--tls',
    "rekey's connections over TLS (Temporal mTLS through a proxy, PostgreSQL verify-full, Connect and registry over HTTPS), then a certificate rotation under load too",
  )
  .option('--cert <service>', `with --tls: whose certificate to rotate (${TLS_SERVICES.join(', ')})`, 'postgresql')
  .parse();
const opts = program.opts<{
  json?: boolean;
  strategy: string;
  grace: string;
  rate: string;
  store: string;
  tls?: boolean;
  cert: string;
}>();
const say = (line: string) => (opts.json ? console.error(line) : console.log(line));

async function main() {
  if (opts.strategy !== 'reload-connector' && opts.strategy !== 'restart-worker')
    throw new Error(`--strategy must be reload-connector or restart-worker, not ${opts.strategy}`);
  const rate = Number(opts.rate);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 1000) throw new Error('--rate must be a number between 1 and 1000');
  const store = parseStore(opts.store);
  say(
    `bringing up what the demo needs: Temporal, PostgreSQL, Kafka, Kafka Connect${store === 'kubernetes' ? ', Kubernetes and its kubelet' : ''} (reused when running)…`,
  );
  const t0 = Date.now();
  // per-service lines only where something is installed or started; a warm stack prints one line
  await upWithStore(embeddedWorkerConfig().stack, store, (l) =>
    /installing|starting|stopping/.test(l) ? console.error(`  ${l}`) : undefined,
  );
  say(`  ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (opts.tls) return tlsMain(rate);
  const { stack, config } = embeddedWorkerConfig();
  // human output on the terminal; the worker's JSON logs go to a file (or stderr with --json)
  const logFile = path.join(stack.logDir, 'demo-worker.log');
  if (!opts.json) logToFile(logFile);
  const taskQueue = `rekey-demo-${process.pid}`;
  const { worker, connection: workerConnection } = await createEmbeddedWorker(
    { ...config, temporal: { ...config.temporal, taskQueue } },
    { quiet: !opts.json },
  );
  const running = worker.run();
  const { client, connection } = await createClient(config);
  say(
    `inserting ${rate} rows/s into ecommerce.users; rotating ${config.secrets.kind === 'kubernetes' ? `Secret ${config.secrets.namespace}/debezium-credentials` : 'the file store'} with ${opts.strategy}, grace ${opts.grace}`,
  );
  try {
    const m = await rotateUnderLoad({
      client,
      stack,
      brokers: [kafkaBootstrap(stack)],
      taskQueue,
      strategy: opts.strategy,
      grace: opts.grace,
      rate,
      say,
    });
    if (opts.json) {
      console.log(JSON.stringify(m));
    } else {
      console.log(
        `\nrotation ${m.rotation.status}: ${m.rotation.oldUser} → ${m.rotation.newUser}${m.rotation.error ? ` (${m.rotation.error})` : ''}`,
      );
      for (const s of m.steps)
        console.log(
          `  ${s.outcome.padEnd(11)} ${s.name.padEnd(24)} ${s.ms === null ? '' : `${s.ms} ms`.padStart(9)}  ${s.detail ?? ''}`,
        );
      console.log(`CDC blackout (longest gap between delivered change events around the switch): ${m.blackoutMs} ms`);
      console.log(
        `events: inserted ${m.events.inserted}, delivered ${m.events.delivered}, lost ${m.events.lost}, duplicates ${m.events.duplicates}`,
      );
      console.log(`Web UI: ${m.rotation.webUi}\nworker log: ${logFile}`);
    }
    if (m.rotation.status !== 'completed' || m.events.lost > 0) process.exitCode = 1;
  } finally {
    worker.shutdown();
    await running;
    await workerConnection.close();
    await connection.close();
  }
}

/** `--tls`: the same stack, rekey's connections over TLS, then the CDC rotation and a certificate rotation. */
async function tlsMain(rate: number) {
  if (!(TLS_SERVICES as readonly string[]).includes(opts.cert))
    throw new Error(`--cert must be one of ${TLS_SERVICES.join(', ')}, not ${opts.cert}`);
  if (opts.store !== 'file') throw new Error('--tls runs on the file store (omit --store)');
  const { stack } = embeddedWorkerConfig();
  const logFile = path.join(stack.logDir, 'demo-worker.log');
  if (!opts.json) logToFile(logFile);
  const m = await tlsDemo({
    stack,
    rate,
    grace: opts.grace,
    cert: opts.cert as TlsService,
    json: Boolean(opts.json),
    say,
  });
  if (opts.json) console.log(JSON.stringify(m));
  else console.log(`\nworker log: ${logFile}`);
  const ok =
    m.credential.rotation.status === 'completed' &&
    m.credential.events.lost === 0 &&
    m.certificate.status === 'completed' &&
    m.certificate.events.lost === 0 &&
    m.certificate.servedAfter !== m.certificate.servedBefore &&
    m.certificate.trustedAfter;
  if (!ok) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exit(1);
});
