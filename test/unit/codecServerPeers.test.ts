import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../freePort.js';
import { codecServerOptionsFromEnv, createCodecServer, isLoopbackPeer } from '../../workers/codecServer.js';

const uiOrigin = 'http://127.0.0.1:18233';
/** This machine's own non-loopback IPv4 address: a peer that is not loopback, without a second host. */
const lanAddress = Object.values(os.networkInterfaces())
  .flat()
  .find((i) => i && !i.internal && i.family === 'IPv4')?.address;

let server: http.Server;
let port = 0;
beforeAll(async () => {
  port = await freePort('0.0.0.0');
  server = createCodecServer({
    keyring: { current: { id: 'k1', key: randomBytes(32).toString('base64') } },
    authToken: 'a-token-of-at-least-16-chars',
    allowedOrigins: [uiOrigin],
    trustedUiOrigins: [uiOrigin],
    allowedHosts: [`127.0.0.1:${port}`, `${lanAddress}:${port}`],
  });
  await new Promise<void>((resolve) => server.listen(port, '0.0.0.0', resolve));
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const decode = (host: string) =>
  fetch(`http://${host}:${port}/decode`, {
    method: 'POST',
    headers: { origin: uiOrigin, host: `${host}:${port}`, 'content-type': 'application/json' },
    body: '{"payloads":[]}',
  }).then((r) => r.status);

describe('codec server: token-free UI origins only from this machine', () => {
  it('classifies peers: 127.0.0.0/8, ::1 and their IPv6-mapped forms are loopback; others are not', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect(isLoopbackPeer(a), a).toBe(true);
    for (const a of ['192.0.2.2', '::ffff:10.0.0.1', 'fd00::2', '', undefined])
      expect(isLoopbackPeer(a), String(a)).toBe(false);
  });

  it.runIf(lanAddress)(
    'a trusted Origin from a loopback peer needs no token; the same Origin from another address gets 401',
    async () => {
      expect(await decode('127.0.0.1')).toBe(200);
      expect(await decode(lanAddress!)).toBe(401);
    },
  );

  it('refuses at start a server bound beyond loopback with token-free origins, naming both settings', () => {
    const env = {
      REKEY_CODEC_KEY: randomBytes(32).toString('base64'),
      REKEY_CODEC_AUTH_TOKEN: 'a-token-of-at-least-16-chars',
      REKEY_CODEC_ALLOWED_ORIGINS: uiOrigin,
      REKEY_CODEC_TRUSTED_UI_ORIGINS: uiOrigin,
    };
    expect(() => codecServerOptionsFromEnv({ ...env, REKEY_CODEC_SERVER_HOST: '0.0.0.0' })).toThrow(
      /REKEY_CODEC_TRUSTED_UI_ORIGINS.*REKEY_CODEC_SERVER_HOST=0\.0\.0\.0/,
    );
    expect(codecServerOptionsFromEnv({ ...env, REKEY_CODEC_SERVER_HOST: '127.0.0.1' }).trustedUiOrigins).toEqual([
      uiOrigin,
    ]);
  });
});
