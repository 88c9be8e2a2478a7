import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { StackConfig } from './config.js';

/** Apicurio's converter jar ships no ServiceLoader manifest; these are its Converter classes. */
const APICURIO_CONVERTERS = [
  'io.apicurio.registry.utils.converter.AvroConverter',
  'io.apicurio.registry.utils.converter.ExtJsonConverter',
  'io.apicurio.registry.utils.converter.SerdeBasedConverter',
];

/**
 * The Apicurio converter plugin with a ServiceLoader manifest beside its jars (symlinks into the
 * read-only tool cache, plus a one-file manifest jar), made once in the stack's data folder —
 * what Kafka's `connect-plugin-path.sh sync-manifests` would write into the plugin itself.
 */
function apicurioWithManifest(cfg: StackConfig): string {
  const source = path.join(cfg.cache, `apicurio-converter-${cfg.versions.apicurioConverter}`, 'libs');
  const plugin = path.join(cfg.dataDir, 'connect', 'plugins', `apicurio-converter-${cfg.versions.apicurioConverter}`);
  const libs = path.join(plugin, 'libs');
  const manifestJar = path.join(libs, 'rekey-service-manifest.jar');
  if (fs.existsSync(manifestJar)) return plugin;
  const work = path.join(cfg.dataDir, 'connect', 'plugins', '.manifest-build');
  fs.rmSync(work, { recursive: true, force: true });
  fs.rmSync(libs, { recursive: true, force: true });
  fs.mkdirSync(path.join(work, 'META-INF', 'services'), { recursive: true });
  fs.mkdirSync(libs, { recursive: true });
  fs.writeFileSync(
    path.join(work, 'META-INF', 'services', 'org.apache.kafka.connect.storage.Converter'),
    APICURIO_CONVERTERS.join('\n') + '\n',
  );
  for (const jar of fs.readdirSync(source)) fs.symlinkSync(path.join(source, jar), path.join(libs, jar));
  execFileSync('jar', ['cf', `${manifestJar}.tmp`, '-C', work, 'META-INF'], { stdio: 'pipe' });
  fs.renameSync(`${manifestJar}.tmp`, manifestJar);
  fs.rmSync(work, { recursive: true, force: true });
  return plugin;
}

/**
 * `plugin.path` and `plugin.discovery` of the stack's Connect worker. With every plugin carrying
 * a manifest, Connect skips its reflection scan (measured 56 s of a 2-core start, 2026-11-26;
 * service_load: a few seconds), which is what a Connect restart (restart-worker, a certificate
 * rotation) waits for. Should the manifest not be made, the default scan still finds everything.
 */
export function connectPluginSettings(cfg: StackConfig): string[] {
  const fixed = [
    `debezium-postgres-${cfg.versions.debezium}`,
    `strimzi-${cfg.versions.strimziProvider}`,
    'rekey-s3-sink-0.1.0',
  ].map((d) => path.join(cfg.cache, d));
  try {
    return [`plugin.path=${[...fixed, apicurioWithManifest(cfg)].join(',')}`, 'plugin.discovery=service_load'];
  } catch {
    const apicurio = path.join(cfg.cache, `apicurio-converter-${cfg.versions.apicurioConverter}`);
    return [`plugin.path=${[...fixed, apicurio].join(',')}`];
  }
}
