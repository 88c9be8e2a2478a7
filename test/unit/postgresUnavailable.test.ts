import { describe, expect, it } from 'vitest';
import { isPostgresUnavailable } from '../../activities/postgres/connection.js';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isPostgresUnavailable (a wait polls on through these)', () => {
  it('is true for a server shutting down or starting, a connection exception, a refused or cut socket', () => {
    for (const code of ['57P01', '57P02', '57P03', '08006', '08001', 'ECONNREFUSED', 'ECONNRESET'])
      expect(isPostgresUnavailable(pgError(code)), code).toBe(true);
    expect(isPostgresUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('is false for errors a retry would not fix: authentication, permissions, syntax, a missing object', () => {
    for (const code of ['28P01', '42501', '42601', '42704', '55P03'])
      expect(isPostgresUnavailable(pgError(code)), code).toBe(false);
    expect(isPostgresUnavailable(new Error('something else'))).toBe(false);
    expect(isPostgresUnavailable(null)).toBe(false);
  });
});
