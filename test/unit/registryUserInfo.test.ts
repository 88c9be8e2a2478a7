import { describe, expect, it } from 'vitest';
import {
  parseUserInfo,
  registryAccountsOf,
  renderUserInfoLine,
  syncUserInfo,
  UserInfoError,
} from '../../activities/registryUserInfo.js';
import { registryUserProperties } from '../../scripts/stack/registry.js';

const entries = (text: string) => parseUserInfo(text).flatMap((l) => (l.entry ? [l.entry] : []));
const errorOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
};

describe("user-info: Jetty's PropertyUserStore file (user: password[,role…])", () => {
  it("reads users as Jetty does: key up to ':', '=' or a blank, the password up to the first ',', roles trimmed; comments and blank lines are kept, not users", () => {
    const text = [
      '# operators',
      '',
      '   ',
      '! also a comment',
      'admin: adm1n,admin',
      '  developer :  d3v , developer , extra ',
      'probe=pr0be,readonly',
      'ops monitor-pw,readonly',
      'nobody:',
      'norole: x',
    ].join('\n');
    expect(entries(text)).toEqual([
      { user: 'admin', password: 'adm1n', roles: ['admin'] },
      { user: 'developer', password: 'd3v', roles: ['developer', 'extra'] },
      { user: 'probe', password: 'pr0be', roles: ['readonly'] },
      { user: 'ops', password: 'monitor-pw', roles: ['readonly'] },
      { user: 'nobody', password: '', roles: [] },
      { user: 'norole', password: 'x', roles: [] },
    ]);
    expect(parseUserInfo(text).map((l) => l.raw)).toEqual(text.split('\n'));
  });

  it("a password may hold ':' and '=' (only the key ends there), never ',' (Jetty cuts it there: the rest are roles); escapes and continuation lines as java.util.Properties", () => {
    expect(entries('svc: a:b=c,admin')).toEqual([{ user: 'svc', password: 'a:b=c', roles: ['admin'] }]);
    expect(entries('svc: pa,ss,admin')).toEqual([{ user: 'svc', password: 'pa', roles: ['ss', 'admin'] }]);
    expect(entries('we\\:ird: p\\u0041ss\\\\,admin')).toEqual([
      { user: 'we:ird', password: 'pAss\\', roles: ['admin'] },
    ]);
    const continued = parseUserInfo('long: secret,\\\n    admin,\\\n    developer\nnext: x');
    expect(continued.map((l) => l.entry)).toEqual([
      { user: 'long', password: 'secret', roles: ['admin', 'developer'] },
      { user: 'next', password: 'x', roles: [] },
    ]);
    expect(continued[0]!.raw).toBe('long: secret,\\\n    admin,\\\n    developer');
    expect(parseUserInfo('a: b\r\nc: d\r\n').map((l) => l.entry?.user)).toEqual(['a', 'c']);
  });

  it('renders `user: password,role…` and reads it back the same', () => {
    const e = { user: 'developer_20260101_1200', password: 'Zm9v-YmFy_baz', roles: ['developer', 'extra'] };
    expect(renderUserInfoLine(e)).toBe('developer_20260101_1200: Zm9v-YmFy_baz,developer,extra');
    expect(entries(renderUserInfoLine(e))).toEqual([e]);
    expect(renderUserInfoLine({ user: 'u', password: 'p:w=1', roles: [] })).toBe('u: p:w=1');
  });

  it('refuses a password Jetty would read otherwise, naming the user and never the password', () => {
    for (const [password, why] of [
      ['has,comma', /contains ','/],
      ['two\nlines', /line break/],
      ['back\\slash', /contains '\\'/],
      ['ünïcode', /not printable ASCII/],
      [' padded', /starts or ends with a blank/],
      ['OBF:1v2j1uum', /encoded credential/],
      ['', /is empty/],
    ] as const) {
      const err = errorOf(() =>
        renderUserInfoLine({ user: 'admin', password, roles: ['admin'] }, "account admin's current user admin"),
      );
      expect(err).toBeInstanceOf(UserInfoError);
      expect(err.message).toMatch(why);
      expect(err.message).toMatch(/account admin's current user admin/);
      if (password) expect(err.message).not.toContain(password);
    }
    expect(() => renderUserInfoLine({ user: 'a:b', password: 'x', roles: [] })).toThrow(/user name/);
  });
});

/** A secret in the runbook's layout: the keys, and user-info with an operator's own lines around them. */
const keys = {
  'admin-user': 'admin',
  'admin-password': 'adm1n',
  'developer-user': 'developer',
  'developer-password': 'd3v',
  'probe-user': 'probe',
  'probe-password': 'pr0be',
  'admin-password-note': 'x',
};
const operators = [
  '# managed by the platform team',
  'ops-monitor: m0n,readonly',
  '',
  '  admin : adm1n , admin',
  'developer: d3v,developer,schema-writer',
  'probe: pr0be,readonly',
  '# break-glass',
  'breakglass: bg,admin',
].join('\n');

describe('syncUserInfo: user-info kept in step with the keys', () => {
  it('the accounts are the <account>-user keys (not their -next/-previous slots)', () => {
    expect(registryAccountsOf({ ...keys, 'developer-next-user': 'd2', 'developer-next-password': 'p' }).sort()).toEqual(
      ['admin', 'developer', 'probe'],
    );
  });

  it("a staged user joins its account's lines with the account's roles; every other line stays as it was, in its place", () => {
    const after = { ...keys, 'developer-next-user': 'developer_20260101_1200', 'developer-next-password': 'n3w' };
    const text = syncUserInfo(operators, keys, after);
    expect(text.split('\n')).toEqual([
      '# managed by the platform team',
      'ops-monitor: m0n,readonly',
      '',
      'admin: adm1n,admin',
      'developer: d3v,developer,schema-writer',
      'developer_20260101_1200: n3w,developer,schema-writer',
      'probe: pr0be,readonly',
      '# break-glass',
      'breakglass: bg,admin',
      '',
    ]);
    // a round trip: the same keys again change nothing
    expect(syncUserInfo(text, after, after)).toBe(text);
  });

  it('promote, then forget the previous user: the old line goes, the new user keeps the roles', () => {
    const accepting = { ...keys, 'developer-next-user': 'dev2', 'developer-next-password': 'n3w' };
    const staged = syncUserInfo(operators, keys, accepting);
    const promoted = {
      ...keys,
      'developer-user': 'dev2',
      'developer-password': 'n3w',
      'developer-previous-user': 'developer',
      'developer-previous-password': 'd3v',
    };
    const switched = syncUserInfo(staged, accepting, promoted);
    expect(entries(switched).filter((e) => e.roles.includes('schema-writer'))).toEqual([
      { user: 'dev2', password: 'n3w', roles: ['developer', 'schema-writer'] },
      { user: 'developer', password: 'd3v', roles: ['developer', 'schema-writer'] },
    ]);
    const done: Record<string, string> = { ...promoted };
    delete done['developer-previous-user'];
    delete done['developer-previous-password'];
    const cleaned = syncUserInfo(switched, promoted, done);
    expect(entries(cleaned).map((e) => e.user)).toEqual(['ops-monitor', 'admin', 'dev2', 'probe', 'breakglass']);
    expect(cleaned).toContain('dev2: n3w,developer,schema-writer');
    // undo of promote (the backup's keys): the lines before it, exactly
    expect(syncUserInfo(switched, promoted, accepting)).toBe(staged);
  });

  it("an account whose current user has no line takes its previous user's roles; with no line for any of its users, it fails naming the account", () => {
    const promoted = {
      ...keys,
      'probe-user': 'probe2',
      'probe-password': 'p2',
      'probe-previous-user': 'probe',
      'probe-previous-password': 'pr0be',
    };
    expect(syncUserInfo(operators, promoted, promoted)).toContain('probe2: p2,readonly\nprobe: pr0be,readonly');
    const err = errorOf(() => syncUserInfo('admin: adm1n,admin\nprobe: pr0be,readonly\n', keys, keys));
    expect(err).toBeInstanceOf(UserInfoError);
    expect(err.message).toMatch(/no line for any user of account developer \(developer\)/);
    expect(err.message).not.toContain('d3v');
  });

  it("an operator-set password holding ',' is refused (Jetty would cut it), without showing it", () => {
    const err = errorOf(() => syncUserInfo(operators, keys, { ...keys, 'admin-password': 'adm,1n' }));
    expect(err.message).toMatch(/account admin's current user admin: its password contains ','/);
    expect(err.message).not.toContain('adm,1n');
  });
});

describe('the embedded stand-in: registryUserProperties converts user-info as the registry starts', () => {
  const prop = (user: string, pw: string) => `quarkus.security.users.embedded.users.${user}=${pw}`;
  const role = (user: string, r: string) => `quarkus.security.users.embedded.roles.${user}=${r}`;

  it("maps Jetty's roles admin/developer/readonly to Apicurio's, gives other roles none, and skips what it cannot serve", () => {
    const userInfo = [
      '# seeded',
      'admin: adm1n,admin',
      'developer: d3v,developer,schema-writer',
      'dev2: n3w,developer',
      'probe: pr0be,readonly',
      'auditor: aud,auditor',
      'hashed: MD5:0cc175b9c0f1b6a831c399e269772661,admin',
      'weird: a$b,admin',
      '',
    ].join('\n');
    expect(registryUserProperties({ ...keys, 'user-info': userInfo })).toEqual([
      prop('admin', 'adm1n'),
      role('admin', 'sr-admin'),
      prop('developer', 'd3v'),
      role('developer', 'sr-developer'),
      prop('dev2', 'n3w'),
      role('dev2', 'sr-developer'),
      prop('probe', 'pr0be'),
      role('probe', 'sr-readonly'),
      prop('auditor', 'aud'),
    ]);
  });

  it('reads the same users as parseUserInfo from the lines rekey writes', () => {
    const after = { ...keys, 'developer-next-user': 'developer_20260101_1200', 'developer-next-password': 'n3w' };
    const text = syncUserInfo(operators, keys, after);
    const users = registryUserProperties({ ...after, 'user-info': text }).filter((l) => l.includes('.embedded.users.'));
    expect(users).toEqual(entries(text).map((e) => prop(e.user, e.password)));
  });

  it("without user-info (an older stack), the keys: each account's current, next and previous user with its role", () => {
    expect(
      registryUserProperties({ ...keys, 'developer-next-user': 'dev2', 'developer-next-password': 'n3w' }),
    ).toEqual([
      prop('admin', 'adm1n'),
      role('admin', 'sr-admin'),
      prop('developer', 'd3v'),
      role('developer', 'sr-developer'),
      prop('dev2', 'n3w'),
      role('dev2', 'sr-developer'),
      prop('probe', 'pr0be'),
      role('probe', 'sr-readonly'),
    ]);
  });
});
