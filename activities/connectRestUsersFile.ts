/**
 * The users file of Kafka's PropertyFileLoginModule: a java.util.Properties file, one
 * `user=password` entry each. Parsed and edited with `properties-file` (a lossless parser that
 * follows java.util.Properties: continuation lines, `\uXXXX` and other escapes, last entry wins).
 * Lines this code does not own (comments, other users) are kept byte for byte; only the entries
 * of the user named are added, replaced or removed. The module reads the file with
 * `Properties.load(InputStream)`, i.e. as ISO-8859-1: what rekey writes is ASCII, anything
 * else `\uXXXX`-escaped.
 */
import { PropertiesEditor } from 'properties-file/editor';

/**
 * The parsed file. The parser's own error quotes the malformed escape, which may sit in a
 * password: it is replaced by one that names the problem and never the content.
 */
function load(content: string): PropertiesEditor {
  try {
    return new PropertiesEditor(content);
  } catch {
    throw new Error(
      'the users file is not a valid java.util.Properties file (a malformed \\uXXXX escape; Connect refuses it too); its content is not shown',
    );
  }
}

interface Parsed {
  editor: PropertiesEditor;
  /** The line break the file ends with (or uses), written back after the last line. */
  eol: string;
  /** An empty file: the parser reads it as one blank line, which must not precede the first entry. */
  empty: boolean;
}

/** The file without its last line break: the editor would keep it as a blank line before an appended entry. */
function parse(file: string): Parsed {
  const trailing = /\r?\n$/.exec(file)?.[0] ?? '';
  const body = file.slice(0, file.length - trailing.length);
  const editor = load(body);
  return { editor, eol: trailing || editor.eolCharacter, empty: body === '' };
}

function written({ editor, eol, empty }: Parsed): string {
  const text = empty ? editor.format().replace(/^\r?\n/, '') : editor.format();
  return text === '' ? '' : `${text}${eol}`;
}

/** The users the file lets in, once each, in file order. */
export function acceptedUsers(file: string): string[] {
  const keys = load(file)
    .getProperties()
    .map((p) => p.key);
  return [...new Set(keys)].filter((k) => k !== '');
}

/** The file with `user`'s entry set to `password` (replaced in place, else appended; other entries of `user` removed). */
export function upsertUser(file: string, user: string, password: string): string {
  const parsed = parse(file);
  const entries = parsed.editor.getPropertyNodes(user);
  if (entries.length === 1 && entries[0]!.value === password) return file;
  for (let n = entries.length; n > 1; n--)
    parsed.editor.delete(user, { occurrence: 'first', deleteLeadingNodes: false });
  // an entry that stays keeps its own separator; a new one is written `user = password`
  if (entries.length) parsed.editor.update(user, { newValue: password, escapeUnicode: true });
  else parsed.editor.insert(user, password, { separator: '=', escapeUnicode: true });
  return written(parsed);
}

/** The file without `user`'s entries. */
export function removeUser(file: string, user: string): string {
  const parsed = parse(file);
  if (parsed.editor.getPropertyNodes(user).length === 0) return file;
  parsed.editor.deleteAll(user);
  return written(parsed);
}

/** The password the file gives `user` (its last entry, as Properties keeps the last), or null. */
export function passwordOf(file: string, user: string): string | null {
  return load(file).getEffectiveProperty(user)?.value ?? null;
}
