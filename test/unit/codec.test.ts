import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { AesGcmCodec, KEY_ID_METADATA, UnknownKeyIdError, dataConverter } from '../../workers/codec.js';
import { loadCodecConfig, loadWorkerConfig } from '../../workers/config.js';
import { stackWorkerDefaults } from '../../scripts/lib/session.js';
import { loadStackConfig } from '../../scripts/stack/config.js';

const k1 = Buffer.alloc(32, 1).toString('base64');
const k2 = Buffer.alloc(32, 2).toString('base64');
const k3 = Buffer.alloc(32, 3).toString('base64');
const keyIdOf = (p: Payload) => Buffer.from(p.metadata![KEY_ID_METADATA]!).toString();

describe('AES-256-GCM payload codec', () => {
  const codec = new AesGcmCodec(k1, 'k1');

  it('round-trips a payload and hides its bytes', async () => {
    const payload = defaultPayloadConverter.toPayload({ user: 'debezium_20260101_0000', note: 'visible-marker' });
    const [sealed] = await codec.encode([payload]);
    expect(Buffer.from(sealed!.data!).toString('latin1')).not.toContain('visible-marker');
    expect(Buffer.from(sealed!.metadata!.encoding!).toString()).toBe('binary/encrypted');
    expect(keyIdOf(sealed!)).toBe('k1');
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({
      user: 'debezium_20260101_0000',
      note: 'visible-marker',
    });
  });

  it('round-trips a payload without data and leaves unencrypted payloads alone', async () => {
    const empty: Payload = { metadata: { encoding: new TextEncoder().encode('binary/null') } };
    const [opened] = await codec.decode(await codec.encode([empty]));
    expect(Buffer.from(opened!.metadata!.encoding!).toString()).toBe('binary/null');
    expect(opened!.data).toBeUndefined();
    const plain = defaultPayloadConverter.toPayload('as is');
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  it('handles empty payload lists', async () => {
    expect(await codec.encode([])).toEqual([]);
    expect(await codec.decode([])).toEqual([]);
  });

  it('refuses a payload sealed with other key material under the same id', async () => {
    const other = new AesGcmCodec(k2, 'k1');
    const [sealed] = await other.encode([defaultPayloadConverter.toPayload('x')]);
    await expect(codec.decode([sealed!])).rejects.toThrow(/cannot be decrypted with key id "k1"/);
  });

  it('refuses a wrong key length', () => {
    expect(() => new AesGcmCodec(Buffer.alloc(16).toString('base64'), 'short')).toThrow(
      /"short" must be base64 of exactly 32 bytes/,
    );
    expect(() => new AesGcmCodec({ current: { id: 'a', key: k1 }, previous: [{ id: 'a', key: k2 }] })).toThrow(
      /appears twice/,
    );
  });
});

describe('codec keyring', () => {
  it('after a rotation, decodes payloads sealed with the old key and seals new ones with the new key', async () => {
    const before = new AesGcmCodec({ current: { id: 'codec-2025', key: k1 } });
    const [old] = await before.encode([
      defaultPayloadConverter.toPayload({ phase: 'grace', marker: 'old-secret-marker' }),
    ]);
    expect(keyIdOf(old!)).toBe('codec-2025');

    const after = new AesGcmCodec({
      current: { id: 'codec-2026', key: k2 },
      previous: [{ id: 'codec-2025', key: k1 }],
    });
    expect(after.currentKeyId).toBe('codec-2026');
    expect(after.keyIds).toEqual(['codec-2026', 'codec-2025']);
    const [opened] = await after.decode([old!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({ phase: 'grace', marker: 'old-secret-marker' });

    const [fresh] = await after.encode([defaultPayloadConverter.toPayload('new')]);
    expect(keyIdOf(fresh!)).toBe('codec-2026');
    // a mixed list (an old history plus a new signal) decodes in one call
    const both = await after.decode([old!, fresh!]);
    expect(both.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([
      { phase: 'grace', marker: 'old-secret-marker' },
      'new',
    ]);
    // the old key alone cannot read what the new key sealed
    await expect(before.decode([fresh!])).rejects.toBeInstanceOf(UnknownKeyIdError);
  });

  it('names an unknown key id in the error, never the payload content', async () => {
    const sealer = new AesGcmCodec(k3, 'retired-2019');
    const [sealed] = await sealer.encode([defaultPayloadConverter.toPayload('secret-content-marker')]);
    const codec = new AesGcmCodec({
      current: { id: 'codec-2026', key: k2 },
      previous: [{ id: 'codec-2025', key: k1 }],
    });
    const err = (await codec.decode([sealed!]).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(UnknownKeyIdError);
    expect(err.message).toContain('"retired-2019"');
    expect(err.message).not.toContain('secret-content-marker');
    expect((err as UnknownKeyIdError).keyId).toBe('retired-2019');
  });

  it('is configured by REKEY_CODEC_KEY, REKEY_CODEC_KEY_ID and REKEY_CODEC_PREVIOUS_KEYS', async () => {
    const c = loadCodecConfig({
      REKEY_CODEC_KEY: k2,
      REKEY_CODEC_KEY_ID: 'codec-2026',
      REKEY_CODEC_PREVIOUS_KEYS: `codec-2025:${k1}, codec-2024:${k3}`,
    });
    expect(c).toMatchObject({
      key: k2,
      keyId: 'codec-2026',
      previousKeys: [
        { id: 'codec-2025', key: k1 },
        { id: 'codec-2024', key: k3 },
      ],
    });
    // (the embedded stack's addresses stand in for the systems a production worker must be told about)
    const worker = loadWorkerConfig(
      { REKEY_CODEC_KEY: k2, REKEY_CODEC_KEY_ID: 'codec-2026', REKEY_CODEC_PREVIOUS_KEYS: `codec-2025:${k1}` },
      stackWorkerDefaults(loadStackConfig({})),
    );
    expect(worker.codec.previousKeys).toEqual([{ id: 'codec-2025', key: k1 }]);
    // the worker's data converter carries the whole keyring
    const [codec] = dataConverter(worker.codec).payloadCodecs!;
    const [old] = await new AesGcmCodec(k1, 'codec-2025').encode([defaultPayloadConverter.toPayload(42)]);
    expect(defaultPayloadConverter.fromPayload((await codec!.decode([old!]))[0]!)).toBe(42);
    expect(keyIdOf((await codec!.encode([defaultPayloadConverter.toPayload(1)]))[0]!)).toBe('codec-2026');
  });

  it('names the field of a wrong keyring value, never the key', () => {
    const secretish = Buffer.alloc(8, 9).toString('base64');
    const fail = (env: NodeJS.ProcessEnv) => {
      try {
        loadCodecConfig(env);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error('expected a configuration error');
    };
    expect(fail({ REKEY_CODEC_KEY: k2, REKEY_CODEC_PREVIOUS_KEYS: `old:${secretish}` })).toMatch(
      /codec\.previousKeys\.0\.key: must be base64 of exactly 32 bytes/,
    );
    expect(fail({ REKEY_CODEC_KEY: k2, REKEY_CODEC_PREVIOUS_KEYS: `old:${secretish}` })).not.toContain(secretish);
    expect(fail({ REKEY_CODEC_KEY: k2, REKEY_CODEC_PREVIOUS_KEYS: `ok:${k1},${k3}` })).toMatch(
      /codec\.previousKeys\.1\.id: must be a key id.*id:base64key/,
    );
    expect(fail({ REKEY_CODEC_KEY: k2, REKEY_CODEC_KEY_ID: 'same', REKEY_CODEC_PREVIOUS_KEYS: `same:${k1}` })).toMatch(
      /codec\.previousKeys\.0\.id: key id "same" is already in the keyring/,
    );
    expect(fail({ REKEY_CODEC_KEY: k2, REKEY_CODEC_KEY_ID: 'has space' })).toMatch(/codec\.keyId: must be a key id/);
    expect(() => loadWorkerConfig({ REKEY_CODEC_KEY: k2, REKEY_CODEC_PREVIOUS_KEYS: 'nocolon' })).toThrow(
      /codec\.previousKeys\.0\.id/,
    );
  });
});
