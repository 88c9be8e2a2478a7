import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { emergencyCommand, registerEmergencyCommands } from '../../cli/commands/emergency.js';
import { addRotateAllCommand } from '../../cli/commands/emergencyRotateAll.js';

/**
 * `rekey emergency isolate` refuses bad input before it connects anywhere: the parser of the
 * real command, run in-process (moved from the e2e file, where each case cost a CLI start).
 */
async function isolate(...args: string[]): Promise<{ error: string; actionRan: boolean }> {
  const program = new Command('rekey').exitOverride();
  let error = '';
  program.configureOutput({ writeErr: (s) => (error += s), writeOut: () => undefined });
  registerEmergencyCommands(program);
  const emergency = program.commands.find((c) => c.name() === 'emergency')!;
  for (const c of [emergency, ...emergency.commands])
    c.exitOverride().configureOutput({ writeErr: (s) => (error += s), writeOut: () => undefined });
  let actionRan = false;
  emergency.commands.find((c) => c.name() === 'isolate')!.action(() => void (actionRan = true));
  await program.parseAsync(['emergency', 'isolate', ...args], { from: 'user' }).catch((e: unknown) => {
    if (!(e instanceof CommanderError)) throw e;
  });
  return { error, actionRan };
}

describe('rekey emergency isolate: input refused before anything runs', () => {
  it('without --reason, naming the option', async () => {
    const r = await isolate('rekey-e2e-victim');
    expect(r.error).toMatch(/required option '--reason <text>' not specified/);
    expect(r.actionRan).toBe(false);
  });

  it('with a reason shorter than 10 characters', async () => {
    const r = await isolate('rekey-e2e-victim', '--reason', 'hmm');
    expect(r.error).toMatch(/--reason <text>.*at least 10 characters/);
    expect(r.actionRan).toBe(false);
  });

  it('with a peer that is neither labels nor a CIDR', async () => {
    const r = await isolate(
      'rekey-e2e-victim',
      '--reason',
      'suspected compromise',
      '--allow-egress-to',
      '10.0.0.0:443',
    );
    expect(r.error).toMatch(/--allow-egress-to <peer>.*must be a CIDR/);
    expect(r.actionRan).toBe(false);
  });

  it('and runs with valid input (the test has teeth)', async () => {
    const r = await isolate(
      'rekey-e2e-victim',
      '--reason',
      'suspected compromise',
      '--allow-egress-to',
      '10.0.0.0/8:443',
    );
    expect(r.error).toBe('');
    expect(r.actionRan).toBe(true);
  });
});

/** `rekey emergency rotate-all …` as parsed by the real command: the error its action throws before it connects anywhere. */
async function rotateAll(...args: string[]): Promise<string> {
  const program = new Command('rekey').exitOverride();
  program.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  addRotateAllCommand(emergencyCommand(program));
  return program
    .parseAsync(['emergency', 'rotate-all', '--reason', 'a laptop with every credential was lost', ...args], {
      from: 'user',
    })
    .then(
      () => '(ran)',
      (e: Error) => e.message,
    );
}

describe('rekey emergency rotate-all --include: TLS material, validated at the edge', () => {
  it('names the flag and the values it takes', async () => {
    expect(await rotateAll('--include', 'keys')).toMatch(
      /^invalid arguments: --include: must be one of: certificates, ca$/,
    );
    expect(await rotateAll('--include', 'ca', 'ca')).toMatch(/^invalid arguments: --include: must not name one twice$/);
    expect(await rotateAll('--include', 'certificates', '--certificate-service', 'redis')).toMatch(
      /^invalid arguments: --certificate-service: must be one of: postgresql, kafka, kafka-connect, schema-registry$/,
    );
    expect(await rotateAll('--include', 'ca', '--ca-grace', 'PT2H')).toMatch(
      /^invalid arguments: --ca-grace: must be an ISO-8601 duration of at most PT1H/,
    );
  });
});

describe('rekey emergency rotate-all --inputs: per-procedure input, validated at the edge', () => {
  it('refuses what is not JSON, a procedure the emergency does not run, and names the field', async () => {
    expect(await rotateAll('--inputs', '{postgresql-app')).toMatch(/^invalid arguments: --inputs: not JSON/);
    expect(await rotateAll('--inputs', '{"isolation":{}}')).toMatch(/^invalid arguments: --inputs: /);
  });
});
