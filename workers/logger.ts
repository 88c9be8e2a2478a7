import pino from 'pino';

const options: pino.LoggerOptions = {
  name: 'rekey',
  level: process.env.REKEY_LOG_LEVEL ?? 'info',
  redact: { paths: ['*.password', '*.secret', '*.key', '*.data', 'password', 'secret'], censor: '[redacted]' },
};

/**
 * Structured JSON logs, to stderr by default (stdout belongs to the programs' own output).
 * Secret values never reach a logger: only names and fingerprints are passed in.
 */
export let logger = pino(options, pino.destination(2));

/** Sends the JSON logs to a file instead (programs with human output, such as the demo). */
export function logToFile(file: string): void {
  logger = pino(options, pino.destination({ dest: file, mkdir: true, sync: false }));
}
