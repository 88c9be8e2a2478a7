import { describe, expect, it } from 'vitest';
import { type InvalidInputError, parseRotationInput } from '../../workflows/postgresCdcInput.js';
import { parseIsoDuration } from '../../workflows/duration.js';
import { cdcUserName } from '../../workflows/rotatePostgresCdc.js';

const fieldsOf = (raw: unknown) => {
  try {
    parseRotationInput(raw);
    return [];
  } catch (err) {
    return (err as InvalidInputError).issues.map((i) => i.field);
  }
};

describe('rotation input', () => {
  it('fills safe defaults: 24 h grace, reload-connector, not a dry run', () => {
    expect(parseRotationInput({ target: 'ecommerce' })).toMatchObject({ gracePeriod: 'PT24H', strategy: 'reload-connector', dryRun: false, minFreeMemoryPercent: 20 });
  });

  it('rejects unsafe identifiers, naming the field', () => {
    expect(fieldsOf({ target: 'ecommerce', parentRole: 'x"; DROP ROLE postgres; --' })).toEqual(['parentRole']);
    expect(fieldsOf({ target: 'ecommerce', slot: 'Debezium Slot' })).toEqual(['slot']);
    expect(fieldsOf({ target: '../etc' })).toEqual(['target']);
  });

  it('rejects zero, negative and malformed durations', () => {
    expect(fieldsOf({ target: 't', gracePeriod: 'PT0S' })).toEqual(['gracePeriod']);
    expect(fieldsOf({ target: 't', gracePeriod: '-PT1H' })).toEqual(['gracePeriod']);
    expect(fieldsOf({ target: 't', gracePeriod: '24h' })).toEqual(['gracePeriod']);
    expect(fieldsOf({ target: 't', gracePeriod: 'PT0S', compromise: true })).toEqual([]);
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
