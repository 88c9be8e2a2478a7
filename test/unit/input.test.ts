import { describe, expect, it } from 'vitest';
import { cdcUserName, type InvalidInputError, parsePostgresCdcInput } from '../../contracts/input/postgresCdc.js';
import { parseIsoDuration } from '../../workflows/rotation/index.js';

const fieldsOf = (raw: unknown) => {
  try {
    parsePostgresCdcInput(raw);
    return [];
  } catch (err) {
    return (err as InvalidInputError).issues.map((i) => i.field);
  }
};

describe('rotation input', () => {
  it('fills safe defaults: 24 h grace, reload-connector, the pipeline secret, not a dry run', () => {
    expect(parsePostgresCdcInput({ target: 'ecommerce' })).toMatchObject({
      gracePeriod: 'PT24H',
      strategy: 'reload-connector',
      secret: 'debezium-credentials',
      compromise: false,
      dryRun: false,
      minFreeMemoryPercent: 20,
    });
  });

  it('compromise: the old user is revoked at once (grace PT0S), a grace period is refused', () => {
    expect(parsePostgresCdcInput({ target: 't', compromise: true })).toMatchObject({
      gracePeriod: 'PT0S',
      compromise: true,
    });
    expect(fieldsOf({ target: 't', compromise: true, gracePeriod: 'PT1H' })).toEqual(['gracePeriod']);
  });

  it('accepts drills only at the steps the workflow checks (the step names of the procedure)', () => {
    for (const step of ['stage', 'create-role', 'promote', 'expire-old-role', 'canary-read-back', 'grace'])
      expect(fieldsOf({ target: 't', injectFailure: step })).toEqual([]);
    expect(fieldsOf({ target: 't', injectFailure: 'switch' })).toEqual(['injectFailure']);
    expect(fieldsOf({ target: 't', injectFailure: 'verify' })).toEqual(['injectFailure']);
  });

  it('a forced run needs a reason', () => {
    expect(fieldsOf({ target: 't', force: { reason: 'lag' } })).toEqual(['force.reason']);
    expect(fieldsOf({ target: 't', force: { reason: 'lag is from a bulk load we expect' } })).toEqual([]);
  });

  it('rejects unsafe identifiers, naming the field', () => {
    expect(fieldsOf({ target: 'ecommerce', parentRole: 'x"; DROP ROLE postgres; --' })).toEqual(['parentRole']);
    expect(fieldsOf({ target: 'ecommerce', slot: 'Debezium Slot' })).toEqual(['slot']);
    expect(fieldsOf({ target: '../etc' })).toEqual(['target']);
    expect(fieldsOf({ target: 't', secret: 'Debezium/Creds' })).toEqual(['secret']);
  });

  it('rejects zero, negative and malformed durations', () => {
    expect(fieldsOf({ target: 't', gracePeriod: 'PT0S' })).toEqual(['gracePeriod']);
    expect(fieldsOf({ target: 't', gracePeriod: '-PT1H' })).toEqual(['gracePeriod']);
    expect(fieldsOf({ target: 't', gracePeriod: '24h' })).toEqual(['gracePeriod']);
    expect(fieldsOf({ target: 't', gracePeriod: 'PT0S', compromise: true })).toEqual([]);
    expect(fieldsOf({ target: 't', gracePeriod: 'P31D' })).toEqual(['gracePeriod']);
  });

  it('rejects an unknown strategy and unknown fields', () => {
    expect(fieldsOf({ target: 't', strategy: 'yolo' })).toEqual(['strategy']);
    expect(fieldsOf({ target: 't', password: 'hunter2' })).toEqual(['(input)']);
  });

  it('parses ISO-8601 durations', () => {
    expect(parseIsoDuration('PT24H')).toBe(86_400_000);
    expect(parseIsoDuration('P1DT30M')).toBe(88_200_000);
    expect(parseIsoDuration('PT1.5S')).toBe(1500);
    expect(parseIsoDuration('P1M')).toBeUndefined();
    expect(parseIsoDuration('P')).toBeUndefined();
  });

  it('names new users debezium_yyyymmdd_hhmm in UTC, avoiding the current name', () => {
    const at = new Date('2024-01-15T10:30:42Z');
    expect(cdcUserName('debezium', at, 'debezium_20240114_1500')).toBe('debezium_20240115_1030');
    expect(cdcUserName('debezium', at, 'debezium_20240115_1030')).toBe('debezium_20240115_103042');
  });
});
