import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { createSchemaRegistryActivities } from '../../activities/schemaRegistry.js';
import { parseUserInfo } from '../../activities/registryUserInfo.js';

/**
 * The registry activities' writes to a secret in the runbook's layout (with `user-info`), on a
 * file store: each one leaves user-info listing exactly the users of the keys, the operator's
 * own lines and roles kept. No registry is called (these steps only write the secret).
 */
const secret = 'schema-registry-auth';
const operatorLines =
  '# platform team\nops-monitor: m0n,readonly\nadmin: adm1n,admin\ndeveloper: d3v,developer,schema-writer\nprobe: pr0be,readonly\n';
const keys = {
  'admin-user': 'admin',
  'admin-password': 'adm1n',
  'developer-user': 'developer',
  'developer-password': 'd3v',
  'probe-user': 'probe',
  'probe-password': 'pr0be',
};

async function world(data: Record<string, string>) {
  const store = new FileSecretStore(fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-userinfo-')));
  await store.write(secret, data);
  const acts = createSchemaRegistryActivities({ store, url: 'http://127.0.0.1:9' });
  const userInfo = async () => (await store.read(secret))!.data['user-info'];
  const users = async () =>
    parseUserInfo((await userInfo()) ?? '').flatMap((l) =>
      l.entry ? [`${l.entry.user}:${l.entry.roles.join('+')}`] : [],
    );
  return { store, acts, userInfo, users };
}

const rotation = { secret, account: 'developer', rotationId: 'r1' };

describe('the registry activities keep user-info in step (runbook layout)', () => {
  it('accept, promote, rollback (restore), promote again, forget: user-info follows the keys; the operator lines and roles stay', async () => {
    const { acts, store, userInfo, users } = await world({ ...keys, 'user-info': operatorLines });
    const staged = await acts.stageRegistryUser({ ...rotation, newUser: 'developer_20260101_1200' });
    expect(await userInfo()).toBe(operatorLines); // staging writes -pending only

    await acts.acceptRegistryUser(rotation);
    expect(await users()).toEqual([
      'ops-monitor:readonly',
      'admin:admin',
      'developer:developer+schema-writer',
      `${staged.user}:developer+schema-writer`,
      'probe:readonly',
    ]);
    const accepted = await userInfo();
    expect(accepted!.startsWith('# platform team\nops-monitor: m0n,readonly\n')).toBe(true);

    await acts.promoteRegistryUser(rotation);
    expect(await users()).toEqual([
      'ops-monitor:readonly',
      'admin:admin',
      `${staged.user}:developer+schema-writer`,
      'developer:developer+schema-writer',
      'probe:readonly',
    ]);

    // rollback of the switch: the file as it was after accept, byte for byte; a second restore writes nothing
    await acts.restoreRegistryBackup(rotation);
    expect(await userInfo()).toBe(accepted);
    const version = (await store.read(secret))!.info.version;
    await acts.restoreRegistryBackup(rotation);
    expect((await store.read(secret))!.info.version).toBe(version);

    await acts.promoteRegistryUser(rotation);
    await acts.forgetRegistryUser({ ...rotation, slot: 'previous' });
    expect(await users()).toEqual([
      'ops-monitor:readonly',
      'admin:admin',
      `${staged.user}:developer+schema-writer`,
      'probe:readonly',
    ]);
    const live = (await store.read(secret))!.data;
    expect(await userInfo()).toContain(`${staged.user}: ${live['developer-password']},developer,schema-writer`);
  });

  it('a secret without user-info (the keys layout) gets none', async () => {
    const { acts, store } = await world(keys);
    await acts.stageRegistryUser({ ...rotation, newUser: 'dev2' });
    await acts.acceptRegistryUser(rotation);
    await acts.promoteRegistryUser(rotation);
    expect(Object.keys((await store.read(secret))!.data)).not.toContain('user-info');
  });

  it('an account with no line in user-info fails the write, non-retryable, naming the account; the secret is unchanged', async () => {
    const { acts, store } = await world({ ...keys, 'user-info': 'admin: adm1n,admin\nprobe: pr0be,readonly\n' });
    const before = (await store.read(secret))!.info.fingerprint;
    await acts.stageRegistryUser({ ...rotation, newUser: 'dev2' });
    const err = await acts.acceptRegistryUser(rotation).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'RegistryUserInfo', nonRetryable: true });
    expect((err as Error).message).toMatch(
      /secret schema-registry-auth, key user-info: .*no line for any user of account developer/,
    );
    expect((err as Error).message).not.toMatch(/d3v|adm1n|pr0be/);
    expect((await store.read(secret))!.info.fingerprint).toBe(before);
  });
});
