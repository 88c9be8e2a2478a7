import { describe, expect, it } from 'vitest';
import {
  parseScramVerifier,
  saslprep,
  scramKeys,
  scramSha256Verifier,
  verifyClientProof,
} from '../../activities/postgres/scram.js';

// RFC 7677 §3: a complete SCRAM-SHA-256 exchange for user "user", password "pencil".
const rfc7677 = {
  password: 'pencil',
  salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
  iterations: 4096,
  clientFirstBare: 'n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinalWithoutProof: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  proof: 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverSignature: '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};
const authMessage = `${rfc7677.clientFirstBare},${rfc7677.serverFirst},${rfc7677.clientFinalWithoutProof}`;

describe('SCRAM-SHA-256 verifier', () => {
  it('accepts the client proof of the RFC 7677 exchange and produces its server signature', () => {
    const verifier = scramSha256Verifier(rfc7677.password, {
      salt: Buffer.from(rfc7677.salt, 'base64'),
      iterations: rfc7677.iterations,
    });
    expect(verifier.startsWith(`SCRAM-SHA-256$4096:${rfc7677.salt}$`)).toBe(true);
    const keys = parseScramVerifier(verifier)!;
    const result = verifyClientProof(keys, authMessage, Buffer.from(rfc7677.proof, 'base64'));
    expect(result.ok).toBe(true);
    expect(result.serverSignature.toString('base64')).toBe(rfc7677.serverSignature);
  });

  it('refuses the RFC client proof against a verifier of another password', () => {
    const keys = scramKeys('pencil2', { salt: Buffer.from(rfc7677.salt, 'base64') });
    expect(verifyClientProof(keys, authMessage, Buffer.from(rfc7677.proof, 'base64')).ok).toBe(false);
  });

  it('has PostgreSQL’s shape, a fresh 16-byte salt each time, and 32-byte keys', () => {
    const a = scramSha256Verifier('s3cret-Pässword');
    const b = scramSha256Verifier('s3cret-Pässword');
    expect(a).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('s3cret');
    const k = parseScramVerifier(a)!;
    expect([k.salt.length, k.storedKey.length, k.serverKey.length]).toEqual([16, 32, 32]);
    expect(() => scramKeys('x', { iterations: 10 })).toThrow(/iterations/);
  });

  it('applies SASLprep like PostgreSQL: ASCII unchanged, non-ASCII spaces and soft hyphens mapped, NFKC', () => {
    expect(saslprep('pa ss\tword')).toBe('pa ss\tword');
    expect(saslprep('I\u00ADX')).toBe('IX');
    expect(saslprep('a\u00A0b')).toBe('a b');
    expect(saslprep('\u2168')).toBe('IX');
    const salt = Buffer.alloc(16, 7);
    expect(scramSha256Verifier('\u2168', { salt })).toBe(scramSha256Verifier('IX', { salt }));
  });
});
