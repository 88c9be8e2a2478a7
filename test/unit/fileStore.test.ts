import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { SecretConflictError } from '../../activities/secrets/store.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-store-'));

describe('file secret store', () => {
  it('writes one file per key with mode 0600 and reads them back', async () => {
    const root = tmp();
    const store = new FileSecretStore(root);
    const info = await store.write(
      'debezium-credentials',
      { 'db-username': 'u1', 'db-password': 'p1' },
      { annotations: { rotationId: 'r1' } },
    );
    const stat = fs.statSync(path.join(root, 'debezium-credentials', 'db-password'));
    expect(stat.mode & 0o777).toBe(0o600);
    const read = await store.read('debezium-credentials');
    expect(read?.data).toEqual({ 'db-username': 'u1', 'db-password': 'p1' });
    expect(read?.info).toMatchObject({ fingerprint: info.fingerprint, annotations: { rotationId: 'r1' } });
    expect(fs.readdirSync(path.join(root, 'debezium-credentials')).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  });

  it('detects a concurrent change through the expected version', async () => {
    const store = new FileSecretStore(tmp());
    const v1 = await store.write('s', { a: '1' });
    await store.write('s', { a: '2' });
    await expect(store.write('s', { a: '3' }, { expectedVersion: v1.version })).rejects.toBeInstanceOf(
      SecretConflictError,
    );
    expect((await store.read('s'))?.data).toEqual({ a: '2' });
    await expect(store.write('new', { a: '1' }, { expectedVersion: null })).resolves.toBeTruthy();
  });

  it('rejects names that could escape its folder', async () => {
    const store = new FileSecretStore(tmp());
    await expect(store.write('../etc', { a: '1' })).rejects.toThrow(/invalid secret name/);
    await expect(store.write('ok', { '../x': '1' })).rejects.toThrow(/invalid key/);
  });

  it('a read racing writes that add and remove keys sees one whole version or the other, never ENOENT', async () => {
    const store = new FileSecretStore(tmp());
    const a = { 'u-user': 'a', 'u-password': 'pa' };
    const b = { ...a, 'u-next-user': 'b', 'u-next-password': 'pb' };
    await store.write('s', a);
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 200; i++) await store.write('s', i % 2 ? a : b);
      writing = false;
    })();
    const seen = new Set<string>();
    while (writing)
      seen.add(
        Object.keys((await store.read('s'))!.data)
          .sort()
          .join(','),
      );
    await writer;
    for (const keys of seen) expect([Object.keys(a).sort().join(','), Object.keys(b).sort().join(',')]).toContain(keys);
  });
});
