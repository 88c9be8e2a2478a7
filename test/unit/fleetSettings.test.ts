import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { imageNodeOptions } from '../../scripts/lib/fleetRun.js';

describe('the worker heap settings the fleet benchmark measures', () => {
  it('are the ones the worker image ships', () => {
    const dockerfile = fs.readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const shipped = /^ENV NODE_OPTIONS="([^"]*)"/m.exec(dockerfile)?.[1];
    expect(shipped).toBe(imageNodeOptions);
  });
});
