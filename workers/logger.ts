import pino from 'pino';

/** Structured logs to stderr. Secret values never reach a logger: only names and fingerprints are passed in. */
// stderr: stdout belongs to the programs' own output (the demo's and bench's JSON last line)
export const logger = pino(
  {
  name: 'rekey',
  level: process.env.REKEY_LOG_LEVEL ?? 'info',
    redact: { paths: ['*.password', '*.secret', '*.key', '*.data', 'password', 'secret'], censor: '[redacted]' },
  },
  pino.destination(2),
);
