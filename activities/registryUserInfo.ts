/**
 * The runbook's secret layout for a Confluent Schema Registry: its users in one key, `user-info`,
 * the property file Jetty's JAAS `PropertyFileLoginModule` reads (`user: password[,role…]`, one
 * user a line; Jetty's PropertyUserStore). rekey keeps that file in step with the
 * `<account>-user`/`-password` keys it rotates, so the registry accepts exactly the users the
 * keys name. Pure text in, text out: no secret store, no Temporal (activities wrap the errors).
 *
 * Jetty loads the file with java.util.Properties (ISO-8859-1, `#`/`!` comments, `\` escapes, the
 * key ends at the first `:`, `=` or blank), then splits the value at its first `,`: the password
 * before it, the roles after. So a password holding `,` would be cut short, a `\` would be read
 * as an escape, and one starting with `OBF:`, `MD5:` or `CRYPT:` as an encoded credential.
 */

export interface UserInfoEntry {
  user: string;
  password: string;
  roles: string[];
}

/** One logical line of the file as written (`raw`, continuation lines included) and, when it defines a user, what Jetty reads from it. */
export interface UserInfoLine {
  raw: string;
  entry?: UserInfoEntry;
}

/** A `user-info` rekey cannot write or keep in step. The message names accounts and users, never a password. */
export class UserInfoError extends Error {
  override name = 'UserInfoError';
}

export type RegistryKeySlot = 'current' | 'next' | 'previous';
export const registrySlots: readonly RegistryKeySlot[] = ['current', 'next', 'previous'];

/** The secret's keys for one account's slot: `<account>-user`, `<account>-next-user`, `<account>-previous-user` and their `-password`. */
export const registryKeys = (account: string, slot: RegistryKeySlot) => {
  const p = slot === 'current' ? account : `${account}-${slot}`;
  return { user: `${p}-user`, password: `${p}-password` };
};

const unescape = (s: string) =>
  s.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, c: string) =>
    c.length === 5
      ? String.fromCharCode(parseInt(c.slice(1), 16))
      : (({ t: '\t', n: '\n', r: '\r', f: '\f' } as Record<string, string>)[c] ?? c),
  );

/** Properties' split of a logical line into key and value: the key ends at the first unescaped `:`, `=` or blank. */
function keyValue(line: string): [string, string] {
  const m = /^((?:\\.|[^\s:=\\])*)[ \t\f]*[:=]?[ \t\f]*(.*)$/s.exec(line.replace(/^[ \t\f]+/, ''))!;
  return [unescape(m[1]!), unescape(m[2]!)];
}

/** The file's lines; user lines carry what Jetty reads from them (user, password, roles). Blank and comment lines only `raw`. */
export function parseUserInfo(text: string): UserInfoLine[] {
  const physical = text.split(/\r\n|\r|\n/);
  if (physical.at(-1) === '') physical.pop();
  const out: UserInfoLine[] = [];
  for (let i = 0; i < physical.length; i++) {
    const first = physical[i]!;
    const trimmed = first.replace(/^[ \t\f]+/, '');
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('!')) {
      out.push({ raw: first });
      continue;
    }
    // a line ending in an odd number of backslashes goes on on the next one (its leading blanks dropped)
    const raw = [first];
    let logical = trimmed;
    while (/(^|[^\\])(\\\\)*\\$/.test(logical) && i + 1 < physical.length) {
      const next = physical[++i]!;
      raw.push(next);
      logical = logical.slice(0, -1) + next.replace(/^[ \t\f]+/, '');
    }
    const [key, value] = keyValue(logical);
    const user = key.trim();
    const comma = value.indexOf(',');
    const password = (comma < 0 ? value : value.slice(0, comma)).trim();
    const roles =
      comma < 0
        ? []
        : value
            .slice(comma + 1)
            .split(',')
            .map((r) => r.trim())
            .filter(Boolean);
    out.push(user ? { raw: raw.join('\n'), entry: { user, password, roles } } : { raw: raw.join('\n') });
  }
  return out;
}

/** Why Jetty would read a password otherwise than rekey wrote it (undefined: it would not). */
const passwordProblems: Array<[(p: string) => boolean, string]> = [
  [(p) => p === '', 'is empty'],
  [(p) => /[\r\n]/.test(p), 'contains a line break'],
  [(p) => p.includes(','), "contains ',' (Jetty reads the roles from the first ',')"],
  [(p) => p.includes('\\'), "contains '\\' (the file is a properties file: an escape)"],
  [
    (p) => !/^[\x20-\x7e]+$/.test(p) || p.trim() !== p,
    'is not printable ASCII, or starts or ends with a blank (Jetty reads the file as ISO-8859-1 and trims)',
  ],
  [
    (p) => /^(OBF|MD5|CRYPT):/.test(p),
    'starts with OBF:, MD5: or CRYPT: (Jetty would read it as an encoded credential)',
  ],
];

/** One user's line, `user: password,role…`; refuses what Jetty would read differently. `what` names the user in errors (never the password). */
export function renderUserInfoLine(e: UserInfoEntry, what = `user ${e.user}`): string {
  if (!/^[\x21-\x7e]+$/.test(e.user) || /[:=\\#!]/.test(e.user))
    throw new UserInfoError(
      `${what}: a user name in user-info must be printable ASCII without blanks, ':', '=', '\\', '#' or '!'`,
    );
  const why = passwordProblems.find(([bad]) => bad(e.password))?.[1];
  if (why)
    throw new UserInfoError(
      `${what}: its password ${why}, so rekey cannot write it into user-info. Give the account a password of letters, digits, '-' and '_' (as rekey generates)`,
    );
  const role = e.roles.find((r) => !/^[^\s,]+$/.test(r));
  if (role !== undefined) throw new UserInfoError(`${what}: role "${role}" cannot be written into user-info`);
  return `${e.user}: ${e.password}${e.roles.map((r) => `,${r}`).join('')}`;
}

/** The accounts a secret holds: every `<account>-user` key that is not a `-next`/`-previous` slot. */
export function registryAccountsOf(data: Record<string, string>): string[] {
  return Object.keys(data)
    .filter((k) => k.endsWith('-user') && !/-(next|previous)-user$/.test(k))
    .map((k) => k.slice(0, -'-user'.length))
    .filter((a) => a !== '');
}

const userOf = (data: Record<string, string>, account: string, slot: RegistryKeySlot) =>
  data[registryKeys(account, slot).user] || undefined;

/** The roles an account's users get: those of its current user's line, else of its previous or next user's, before the change, else after it. */
function rolesOf(
  account: string,
  before: Record<string, string>,
  after: Record<string, string>,
  lines: Map<string, UserInfoEntry>,
): string[] {
  for (const data of [before, after]) {
    for (const slot of ['current', 'previous', 'next'] as const) {
      const entry = lines.get(userOf(data, account, slot) ?? '');
      if (entry) return entry.roles;
    }
  }
  const users = [
    ...new Set(registrySlots.flatMap((s) => [userOf(before, account, s), userOf(after, account, s)]).filter(Boolean)),
  ].join(', ');
  throw new UserInfoError(
    `user-info has no line for any user of account ${account} (${users}), so rekey cannot tell which roles its users get: add one ("<user>: <password>,<role>") for its current user`,
  );
}

/**
 * `userInfo` (the file as the secret held it, `before`) rewritten for the keys of `after`: every
 * line of a user no account's slot names stays as it was, in its place; the lines of each
 * account's users, wherever its first one stood, become its current, next and previous users
 * with the roles its current user had. Idempotent: the result rewritten again is the same.
 */
export function syncUserInfo(userInfo: string, before: Record<string, string>, after: Record<string, string>): string {
  const parsed = parseUserInfo(userInfo);
  const lines = new Map(parsed.flatMap((l) => (l.entry ? [[l.entry.user, l.entry] as const] : [])));
  const accounts = [...new Set([...registryAccountsOf(before), ...registryAccountsOf(after)])].sort();
  const accountOf = new Map<string, string>();
  for (const account of accounts) {
    for (const data of [before, after]) {
      for (const slot of registrySlots) {
        const user = userOf(data, account, slot);
        if (user && !accountOf.has(user)) accountOf.set(user, account);
      }
    }
  }
  const blocks = new Map<string, string[]>();
  for (const account of accounts) {
    const roles = rolesOf(account, before, after, lines);
    blocks.set(
      account,
      registrySlots.flatMap((slot) => {
        const k = registryKeys(account, slot);
        const [user, password] = [after[k.user], after[k.password]];
        return user && password !== undefined
          ? [renderUserInfoLine({ user, password, roles }, `account ${account}'s ${slot} user ${user}`)]
          : [];
      }),
    );
  }
  const out: string[] = [];
  for (const line of parsed) {
    const account = line.entry ? accountOf.get(line.entry.user) : undefined;
    if (account === undefined) {
      out.push(line.raw);
    } else if (blocks.has(account)) {
      // the account's first line: all its users go here; its later lines were its users too, now written here
      out.push(...blocks.get(account)!);
      blocks.delete(account);
    }
  }
  for (const rest of blocks.values()) out.push(...rest);
  return out.length ? `${out.join('\n')}\n` : '';
}
