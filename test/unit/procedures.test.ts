import { describe, expect, it } from 'vitest';
import { createPlanActivities } from '../../activities/plans.js';
import { rekeyProgram } from '../../cli/main.js';
import { RUN_KINDS } from '../../cli/runs.js';
import { RotateAllInput } from '../../contracts/input/rotateAll.js';
import { scheduledRotations } from '../../contracts/input/schedules.js';
import { credentialProcedureIds, credentialProcedures, emergencyOrder } from '../../contracts/procedures.js';
import { credentialStarters } from '../../workers/startRotation.js';
import * as registered from '../../workflows/index.js';
import { credentialWorkflows } from '../../workflows/procedures.js';

/**
 * One list of credential procedures (contracts/procedures.ts): every table that launches,
 * resolves, schedules, lists or starts a rotation is built from it or checked against it here.
 */
describe.each(credentialProcedureIds.map((id) => [id]))('the %s procedure, from its contract', (id) => {
  const contract = credentialProcedures[id];

  it('names the workflow the worker registers and its parents launch', () => {
    expect(credentialWorkflows[id].name).toBe(contract.workflowType);
    expect(Object.keys(registered)).toContain(contract.workflowType);
  });

  it('resolves its plan on the worker with the activity it names, to its default secret', async () => {
    const resolver = (createPlanActivities({ testHooks: false }) as Record<string, (raw: unknown) => Promise<unknown>>)[
      contract.planResolver
    ];
    expect(typeof resolver).toBe('function');
    const plan = (await resolver!({ target: 'ecommerce' })) as { secret: string };
    expect(plan.secret).toBe(contract.defaultSecret);
    expect(contract.resource(contract.parse({ target: 'ecommerce' }) as never)).toBe(contract.defaultSecret);
  });

  it('is started, listed, scheduled and part of the emergency as its contract says', () => {
    expect(typeof credentialStarters[id]).toBe('function');
    expect(RUN_KINDS[contract.workflowType]).toEqual({ kind: id, progress: 'rotation' });
    expect(scheduledRotations.includes(id)).toBe(contract.scheduled);
    expect(emergencyOrder.includes(id)).toBe(contract.emergencyOrder !== undefined);
    const skip = () => RotateAllInput.parse({ reason: 'a lost laptop with keys', skip: [id] }).skip;
    // the emergency's --skip names only what it would rotate
    if (contract.emergencyOrder !== undefined) expect(skip()).toEqual([id]);
    else expect(skip).toThrow(/skip/);
  });
});

it('has one rotate-… command per credential procedure', () => {
  const rotate = rekeyProgram()
    .commands.map((c) => c.name())
    .filter((n) => n.startsWith('rotate-'));
  expect(rotate).toHaveLength(credentialProcedureIds.length);
});
