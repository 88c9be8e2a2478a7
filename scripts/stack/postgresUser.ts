import fs from 'node:fs';
import { StackError } from './proc.js';

/** PostgreSQL refuses to run as root: when we are root, its tools run as, and its files belong to, the `postgres` user. */
export const asRoot = process.getuid?.() === 0;

export function postgresIds(): { uid: number; gid: number } {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line)
    throw new StackError(
      'postgres',
      'no `postgres` system user: install PostgreSQL 15 (apt-get install postgresql-15)',
    );
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export function chownToPostgres(target: string) {
  if (!asRoot) return;
  const { uid, gid } = postgresIds();
  fs.chownSync(target, uid, gid);
}
