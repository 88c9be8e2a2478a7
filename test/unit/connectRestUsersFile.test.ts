import { describe, expect, it } from 'vitest';
import { acceptedUsers, passwordOf, removeUser, upsertUser } from '../../activities/connectRestUsersFile.js';

/** What Kafka's PropertyFileLoginModule reads (java.util.Properties), edited one user at a time. */
describe('Connect REST users file', () => {
  const file = '# managed by the platform team\nconnect-admin=old\nmonitoring : keep\n';

  it('adds, replaces and removes one user, keeping comments and other users byte for byte', () => {
    const both = upsertUser(file, 'connect-admin-20261207-1500', 'n3w');
    expect(both).toBe(`${file}connect-admin-20261207-1500 = n3w\n`);
    expect(upsertUser(both, 'connect-admin-20261207-1500', 'n3w')).toBe(both); // a retry changes nothing
    expect(acceptedUsers(both)).toEqual(['connect-admin', 'monitoring', 'connect-admin-20261207-1500']);
    expect(removeUser(both, 'connect-admin')).toBe(
      '# managed by the platform team\nmonitoring : keep\nconnect-admin-20261207-1500 = n3w\n',
    );
    expect(removeUser(file, 'nobody')).toBe(file);
    expect(upsertUser(file, 'connect-admin', 'newer')).toBe(file.replace('=old', '=newer')); // replaced in place
    expect(upsertUser('x=1\nx=2\n', 'x', '3')).toBe('x=3\n'); // one entry left for the user
    expect(upsertUser('a=1\r\nb=2\r\n', 'c', '3')).toBe('a=1\r\nb=2\r\nc = 3\r\n'); // the file's own line breaks
  });

  it('escapes what Properties would misread, and writes ASCII only (the module loads the file as ISO-8859-1)', () => {
    const written = upsertUser('', 'u', 'a=b:c#d\\e é');
    expect(written).toBe('u = a\\=b\\:c\\#d\\\\e \\u00e9\n');
    expect(passwordOf(written, 'u')).toBe('a=b:c#d\\e é');
    expect(passwordOf(upsertUser('', 'u', ' lead')!, 'u')).toBe(' lead');
  });

  it('reads what an operator may have written: continuation lines, \\uXXXX escapes, the last entry of a user', () => {
    const operators = 'ops\\\n  -team = long\\\n    pass\nconnect-admin=\\u0070w\nconnect-admin=pw2\n';
    expect(acceptedUsers(operators)).toEqual(['ops-team', 'connect-admin']);
    expect(passwordOf(operators, 'ops-team')).toBe('longpass');
    expect(passwordOf(operators, 'connect-admin')).toBe('pw2');
    expect(passwordOf(operators, 'nobody')).toBeNull();
    // a user written over three lines is removed whole, and nothing else is touched
    expect(removeUser(operators, 'ops-team')).toBe('connect-admin=\\u0070w\nconnect-admin=pw2\n');
  });

  it('refuses a malformed \\uXXXX escape without quoting the file (it may sit in a password)', () => {
    const file = 'connect-admin=pass\\u00zzword\n';
    for (const read of [
      () => acceptedUsers(file),
      () => passwordOf(file, 'connect-admin'),
      () => upsertUser(file, 'u', 'p'),
    ])
      expect(read).toThrow(/^the users file is not a valid java.util.Properties file .*its content is not shown$/);
    expect(() => acceptedUsers(file)).not.toThrow(/00zz|pass/);
  });
});
