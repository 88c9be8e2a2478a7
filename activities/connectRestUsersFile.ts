/**
 * The users file of Kafka's PropertyFileLoginModule: a java.util.Properties file, one
 * `user=password` entry per line. Lines this code does not own (comments, other users) are kept
 * byte for byte; only the entry of the user named is added, replaced or removed.
 */

/** The key of one line (java.util.Properties: up to the first unescaped `=`, `:` or whitespace), or null for a comment/blank. */
function keyOf(line: string): string | null {
  const text = line.replace(/^[ \t\f]+/, '');
  if (text === '' || text.startsWith('#') || text.startsWith('!')) return null;
  let key = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      key += text[++i];
      continue;
    }
    if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break;
    key += c;
  }
  return key;
}

/** A key or value written so java.util.Properties reads it back unchanged. */
function escape(text: string, isKey: boolean): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/[=:#!]/g, (c) => `\\${c}`)
    .replace(isKey ? /[ \t\f]/g : /^[ \t\f]/, (c) => `\\${c}`)
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r');
}

const lines = (file: string) => file.split(/\r?\n/).filter((l, i, all) => !(i === all.length - 1 && l === ''));
const joined = (ls: string[]) => (ls.length ? `${ls.join('\n')}\n` : '');

/** The users the file lets in, in file order (continuation lines are not used by rekey's files). */
export function acceptedUsers(file: string): string[] {
  return lines(file)
    .map(keyOf)
    .filter((k): k is string => k !== null && k !== '');
}

/** The file with `user`'s entry set to `password` (replaced in place, else appended). */
export function upsertUser(file: string, user: string, password: string): string {
  const entry = `${escape(user, true)}=${escape(password, false)}`;
  const ls = lines(file);
  const at = ls.findIndex((l) => keyOf(l) === user);
  if (at >= 0 && ls[at] === entry && ls.filter((l) => keyOf(l) === user).length === 1) return file;
  const kept = ls.filter((l, i) => i === at || keyOf(l) !== user);
  if (at >= 0) kept[kept.findIndex((l) => keyOf(l) === user)] = entry;
  else kept.push(entry);
  return joined(kept);
}

/** The file without `user`'s entries. */
export function removeUser(file: string, user: string): string {
  const ls = lines(file);
  const kept = ls.filter((l) => keyOf(l) !== user);
  return kept.length === ls.length ? file : joined(kept);
}

/** The password the file gives `user` (its last entry, as Properties keeps the last), or null. */
export function passwordOf(file: string, user: string): string | null {
  let found: string | null = null;
  for (const line of lines(file)) {
    if (keyOf(line) !== user) continue;
    const text = line.replace(/^[ \t\f]+/, '');
    let i = 0;
    while (i < text.length && !/[=: \t\f]/.test(text[i]!)) i += text[i] === '\\' ? 2 : 1;
    while (i < text.length && /[ \t\f]/.test(text[i]!)) i++;
    if (text[i] === '=' || text[i] === ':') i++;
    while (i < text.length && /[ \t\f]/.test(text[i]!)) i++;
    found = text.slice(i).replace(/\\(.)/g, '$1');
  }
  return found;
}
