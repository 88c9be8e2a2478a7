import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { StackConfig } from './config.js';

/**
 * JVM options for a faster start of a stand-in that rotations restart (Kafka Connect, the
 * registry: ~9 s each, several times per test file). A class-data archive of the service's
 * own classes, written when the JVM first exits and mapped on every later start, in the
 * version-keyed cache so fresh clones reuse it; and the C1 compiler only, since an embedded
 * service lives minutes and its peak throughput does not matter. JDK 19+ writes and re-checks
 * the archive itself (AutoCreateSharedArchive); JDK 13-18 write it at exit when absent.
 * Measured (2 cores): the registry restarts in 4.7 s instead of 8.8 s. A JVM started with a
 * Java agent (Connect's JMX exporter) refuses to write the archive unless
 * AllowArchivingWithJavaAgent (a diagnostic option) says so: without it the first, cold start
 * exits at once ("Error occurred during CDS dumping"), which only a cold CI run meets.
 */
export function fastJvmStart(
  cfg: StackConfig,
  name: string,
  java: string,
  opts: { javaAgent?: boolean } = {},
): string[] {
  const javaMajor = javaMajorVersion(java);
  const dir = path.join(cfg.cache, 'jvm-class-archives');
  fs.mkdirSync(dir, { recursive: true });
  const archive = path.join(dir, `${name}-java${javaMajor}.jsa`);
  const c1Only = '-XX:TieredStopAtLevel=1';
  const withAgent = opts.javaAgent ? ['-XX:+UnlockDiagnosticVMOptions', '-XX:+AllowArchivingWithJavaAgent'] : [];
  if (javaMajor >= 19)
    return [c1Only, ...withAgent, '-XX:+AutoCreateSharedArchive', `-XX:SharedArchiveFile=${archive}`];
  if (javaMajor >= 13)
    return [
      c1Only,
      ...(fs.existsSync(archive)
        ? [`-XX:SharedArchiveFile=${archive}`]
        : [...withAgent, `-XX:ArchiveClassesAtExit=${archive}`]),
    ];
  return [c1Only];
}

const majors = new Map<string, number>();

/** The major version of a `java` binary, from `java -version` (0 when unknown: no archive then). */
export function javaMajorVersion(java: string): number {
  let major = majors.get(java);
  if (major === undefined) {
    const out = spawnSync(java, ['-version'], { encoding: 'utf8' });
    const m = /version "(\d+)(?:\.(\d+))?/.exec(`${out.stderr ?? ''}${out.stdout ?? ''}`);
    major = !m ? 0 : m[1] === '1' ? Number(m[2]) : Number(m[1]);
    majors.set(java, major);
  }
  return major;
}
