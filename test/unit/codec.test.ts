import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmCodec } from '../../workers/codec.js';

describe('AES-256-GCM payload codec', () => {
  const codec = new AesGcmCodec(Buffer.alloc(32, 1).toString('base64'), 'k1');

  it('round-trips a payload and hides its bytes', async () => {
    const payload = defaultPayloadConverter.toPayload({ user: 'debezium_20260101_0000', note: 'visible-marker' });
    const [sealed] = await codec.encode([payload]);
    expect(Buffer.from(sealed!.data!).toString('latin1')).not.toContain('visible-marker');
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({ user: 'debezium_20260101_0000', note: 'visible-marker' });
  });

  it('refuses a payload sealed with another key', async () => {
    const other = new AesGcmCodec(Buffer.alloc(32, 2).toString('base64'), 'k1');
    const [sealed] = await other.encode([defaultPayloadConverter.toPayload('x')]);
    await expect(codec.decode([sealed!])).rejects.toThrow();
  });
});
