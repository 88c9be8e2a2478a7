import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import * as registered from '../../workflows/index.js';
import { clientConfigFromEnv, configureCli } from '../../cli/context.js';
import { rekeyProgram } from '../../cli/main.js';
import { INTERNAL_TYPES, RUN_KINDS } from '../../cli/runs.js';
import { productionDefaults } from '../../workers/config.js';

/** The operator CLI as a product: what it refuses before any server, where it connects, and that it knows every kind of run. */
const allCommands = (c: Command): Command[] => [c, ...c.commands.flatMap(allCommands)];
afterEach(() =>
  configureCli({
    env: process.env,
    address: undefined,
    namespace: undefined,
    defaults: undefined,
    ignoreTemporalCliEnv: undefined,
  }),
);

describe('rekey CLI', () => {
  it('knows every workflow the worker registers: `list` and `progress` cover each kind of run', () => {
    const types = Object.keys(registered).filter((t) => !INTERNAL_TYPES.includes(t));
    expect(types.filter((t) => !(t in RUN_KINDS))).toEqual([]);
    expect(Object.keys(RUN_KINDS).filter((t) => !types.includes(t))).toEqual([]);
  });

  /** The refusal for `args`, from a CLI pointed at an address that would take 10 s to fail to connect to. */
  const refusal = (...args: string[]) =>
    rekeyProgram()
      .exitOverride()
      .parseAsync(['--address', '127.0.0.1:1', ...args], { from: 'user' })
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );

  it.each([
    [['rotate-postgres-cdc', '--target', 'ecommerce', '--grace', 'P31D'], /gracePeriod: must be at most P30D/],
    [
      ['rotate-kafka-scram', '--target', 'ecommerce', '--mechanism', 'PLAIN'],
      /mechanism: must be one of: SCRAM-SHA-512, SCRAM-SHA-256/,
    ],
  ])('refuses a bad value with the field named, before connecting to any server: %s', async (args, message) => {
    const t0 = Date.now();
    expect(await refusal(...args)).toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(message),
    });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('connects where --address/--namespace say, else REKEY_TEMPORAL_*, else the Temporal CLI variables', () => {
    configureCli({
      env: {
        TEMPORAL_ADDRESS: 'temporal.example:7233',
        TEMPORAL_NAMESPACE: 'payments',
        REKEY_INSECURE_NO_ENCRYPTION: '1',
      },
    });
    expect(clientConfigFromEnv().temporal).toMatchObject({ address: 'temporal.example:7233', namespace: 'payments' });
    configureCli({
      env: {
        TEMPORAL_ADDRESS: 'temporal.example:7233',
        REKEY_TEMPORAL_ADDRESS: 'rekey.example:7233',
        REKEY_INSECURE_NO_ENCRYPTION: '1',
      },
    });
    expect(clientConfigFromEnv().temporal.address).toBe('rekey.example:7233');
    configureCli({ address: 'flag.example:7233', namespace: 'flagged' });
    expect(clientConfigFromEnv().temporal).toMatchObject({ address: 'flag.example:7233', namespace: 'flagged' });
  });

  it("lets rekey's own config file beat the Temporal CLI's variables, and the checkout wrapper ignore them", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-cli-')), 'config.json');
    fs.writeFileSync(file, JSON.stringify({ temporal: { address: 'file.example:7233' } }));
    const env = { TEMPORAL_ADDRESS: 'cloud.example:7233', REKEY_INSECURE_NO_ENCRYPTION: '1' };
    configureCli({ env: { ...env, REKEY_CONFIG: file } });
    expect(clientConfigFromEnv().temporal.address).toBe('file.example:7233');
    const stack = { ...productionDefaults, temporal: { address: '127.0.0.1:17233' } };
    configureCli({ env, defaults: stack, ignoreTemporalCliEnv: true });
    expect(clientConfigFromEnv().temporal.address).toBe('127.0.0.1:17233');
    configureCli({ ignoreTemporalCliEnv: false });
    expect(clientConfigFromEnv().temporal.address).toBe('cloud.example:7233');
    fs.rmSync(path.dirname(file), { recursive: true });
  });

  it('has one wait flag (--wait) and records the OS user as the requester by default', () => {
    const commands = allCommands(rekeyProgram());
    const options = commands.flatMap((c) =>
      c.options.map((o) => ({ command: c.name(), flag: o.long, defaultValue: o.defaultValue as unknown })),
    );
    expect(options.filter((o) => o.flag === '--no-wait')).toEqual([]);
    expect(
      options
        .filter((o) => o.flag === '--wait')
        .map((o) => o.command)
        .sort(),
    ).toEqual([
      'rotate',
      'rotate-aws-keys',
      'rotate-ca',
      'rotate-connect-rest',
      'rotate-kafka-scram',
      'rotate-postgres-admin',
      'rotate-postgres-app',
      'rotate-postgres-cdc',
      'rotate-schema-registry',
    ]);
    const requestedBy = options.filter((o) => o.flag === '--requested-by');
    expect(requestedBy.length).toBeGreaterThan(5);
    for (const o of requestedBy) expect(o.defaultValue, o.command).toBe(os.userInfo().username);
  });
});
