import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { METADATA_ENCODING_KEY, type DataConverter, type Payload, type PayloadCodec, ValueError } from '@temporalio/common';

const ENCODING = 'binary/encrypted';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * AES-256-GCM payload codec: every payload (inputs, results, signals, memo) is
 * encrypted before it leaves the process. A second line of defence: secret values
 * never enter payloads in the first place.
 */
export class AesGcmCodec implements PayloadCodec {
  private readonly key: Buffer;
  constructor(
    keyBase64: string,
    private readonly keyId: string,
  ) {
    this.key = Buffer.from(keyBase64, 'base64');
    if (this.key.length !== 32) throw new ValueError('codec key must be 32 bytes');
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', this.key, iv);
      const plain = Buffer.from(
        JSON.stringify({
          metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
          data: payload.data ? Buffer.from(payload.data).toString('base64') : undefined,
        }),
      );
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { [METADATA_ENCODING_KEY]: encoder.encode(ENCODING), 'encryption-key-id': encoder.encode(this.keyId) }, data: sealed };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      if (!encoding || decoder.decode(encoding) !== ENCODING) return payload;
      const keyId = payload.metadata?.['encryption-key-id'];
      if (keyId && decoder.decode(keyId) !== this.keyId) throw new ValueError(`payload encrypted with unknown key id ${decoder.decode(keyId)}`);
      const sealed = Buffer.from(payload.data ?? new Uint8Array());
      const iv = sealed.subarray(0, 12);
      const tag = sealed.subarray(sealed.length - 16);
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
      const parsed = JSON.parse(plain.toString()) as { metadata: Record<string, string>; data?: string };
      return {
        metadata: Object.fromEntries(Object.entries(parsed.metadata).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
        data: parsed.data === undefined ? undefined : new Uint8Array(Buffer.from(parsed.data, 'base64')),
      };
    });
  }
}

/** The data converter worker and clients share. Failure messages and stacks are encoded too. */
export function dataConverter(codec: { key?: string; keyId: string; insecureNoEncryption: boolean }): DataConverter {
  if (!codec.key) {
    if (!codec.insecureNoEncryption) throw new Error('refusing to run without a payload codec key (REKEY_CODEC_KEY)');
    return {};
  }
  return {
    payloadCodecs: [new AesGcmCodec(codec.key, codec.keyId)],
    failureConverterPath: fileURLToPath(new URL('./failure-converter.cjs', import.meta.url)),
  };
}
