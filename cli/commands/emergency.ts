import { setTimeout as sleep } from 'node:timers/promises';
import { type Command, InvalidArgumentError } from 'commander';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { IsolationAllow, WorkloadKind } from '../../activities/isolation.js';
import type { IsolationResult, IsolationState } from '../../workflows/emergency/definitions.js';
import {
  deploymentName,
  IsolationAllowInput,
  type IsolationInput,
  workloadPath,
} from '../../contracts/input/isolation.js';
import type { isolateDeployment } from '../../workflows/emergency/isolate.js';
import { operator, withClient } from '../context.js';

/**
 * `--allow-ingress-from` / `--allow-egress-to`: `k=v[,k=v]` (pods of the namespace by labels)
 * or a CIDR, optionally `:port` (TCP). Repeatable.
 */
export function allowParser(direction: IsolationAllow['direction']) {
  return (value: string, previous: IsolationAllow[] = []): IsolationAllow[] => {
    let spec = value.trim();
    let port: number | undefined;
    const m = /^(.+):(\d{1,5})$/.exec(spec);
    if (m && (m[1]!.includes('=') || m[1]!.includes('/'))) [spec, port] = [m[1]!, Number(m[2])];
    const peer = spec.includes('=')
      ? {
          podLabels: Object.fromEntries(
            spec.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')).trim(), kv.slice(kv.indexOf('=') + 1).trim()]),
          ),
        }
      : { cidr: spec };
    const parsed = IsolationAllowInput.safeParse({ direction, ...peer, ...(port === undefined ? {} : { port }) });
    if (!parsed.success)
      throw new InvalidArgumentError(
        `${parsed.error.issues.map((i) => `${i.path.join('.') || 'peer'}: ${i.message}`).join('; ')} (expected k=v[,k=v] or a CIDR, optionally :port)`,
      );
    return [...previous, parsed.data as IsolationAllow];
  };
}

function reasonText(v: string): string {
  if (v.trim().length < 10)
    throw new InvalidArgumentError('say in at least 10 characters why (it goes to the audit log)');
  return v;
}

function deployment(v: string): string {
  const parsed = deploymentName.safeParse(v);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]!.message);
  return v;
}

/** The isolation workflow's definitions and the client's errors, loaded when a command runs (not for --help). */
const definitions = () => import('../../workflows/emergency/definitions.js');
const clientErrors = () => import('@temporalio/client');
const failureOf = (err: unknown) =>
  err instanceof Error && 'cause' in err && err.name === 'WorkflowFailedError'
    ? ((err.cause as Error | undefined)?.message ?? err.message)
    : err instanceof Error
      ? err.message
      : String(err);

/** Polls the `isolation` query until `done`; a run that ends meanwhile (refused, rolled back) throws its failure. */
async function waitForState(
  handle: WorkflowHandle,
  done: (s: IsolationState) => boolean,
  timeoutMs: number,
): Promise<IsolationState> {
  const { isolationQuery } = await definitions();
  let ended: { error: unknown } | undefined;
  void handle.result().then(
    () => undefined,
    (error: unknown) => (ended = { error }),
  );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (ended) throw new Error(`${handle.workflowId}: ${failureOf(ended.error)}`);
    const state = await handle.query(isolationQuery).catch(() => undefined);
    if (state && done(state)) return state;
    if (Date.now() > deadline)
      throw new Error(
        `${handle.workflowId} not done after ${timeoutMs / 1000} s (phase ${state?.phase ?? 'unknown'}); follow it in the Web UI`,
      );
    await sleep(250);
  }
}

/** Starts the isolation and returns once the deployment is isolated (network cut, scaled to 0). */
export async function isolate(
  client: Client,
  taskQueue: string,
  input: IsolationInput,
  timeoutMs = 120_000,
): Promise<IsolationState> {
  const { isolationWorkflowId } = await definitions();
  const { WorkflowExecutionAlreadyStartedError } = await clientErrors();
  const workflowId = isolationWorkflowId(input.deployment, input.kind);
  const path = workloadPath({ deployment: input.deployment, kind: input.kind ?? 'Deployment' });
  const flag = input.kind === 'StatefulSet' ? ' --statefulset' : '';
  let handle: WorkflowHandle<typeof isolateDeployment>;
  try {
    handle = await client.workflow.start<typeof isolateDeployment>('isolateDeployment', {
      taskQueue,
      workflowId,
      args: [input],
      staticSummary: `Emergency isolation of ${path}: ${input.reason}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new Error(
        `${path} is already isolated by ${workflowId}: see it with \`rekey emergency status ${input.deployment}${flag}\`, lift it with \`rekey emergency restore ${input.deployment}${flag}\``,
      );
    }
    throw err;
  }
  return waitForState(handle, (s) => s.phase === 'isolated', timeoutMs);
}

/** Signals restore and waits for the result; a restore that fails leaves the isolation in place and throws its error. */
export async function restore(
  client: Client,
  name: string,
  request: { reason?: string; by: string },
  timeoutMs = 120_000,
  kind: WorkloadKind = 'Deployment',
): Promise<IsolationResult> {
  const { isolationWorkflowId, isolationQuery, restoreSignal } = await definitions();
  const { WorkflowNotFoundError } = await clientErrors();
  const handle = client.workflow.getHandle<typeof isolateDeployment>(isolationWorkflowId(name, kind));
  const path = workloadPath({ deployment: name, kind });
  const before = await handle.query(isolationQuery).catch((err: unknown) => {
    if (err instanceof WorkflowNotFoundError)
      throw new Error(`${path} has never been isolated by rekey (no workflow ${handle.workflowId})`);
    throw err;
  });
  const status = (await handle.describe()).status.name;
  if (status !== 'RUNNING')
    throw new Error(
      `${path} is not isolated by rekey: ${handle.workflowId} ended (${status.toLowerCase()}, phase ${before.phase})`,
    );
  if (before.phase !== 'isolated' && before.phase !== 'isolating' && before.phase !== 'inspecting')
    throw new Error(`${handle.workflowId} is ${before.phase}: nothing to restore`);
  await handle.signal(restoreSignal, { by: request.by, ...(request.reason ? { reason: request.reason } : {}) });
  const n = before.restores.length;
  const state = await waitForState(
    handle,
    (s) => s.phase === 'restored' || s.restores[n]?.outcome === 'failed',
    timeoutMs,
  );
  if (state.phase !== 'restored')
    throw new Error(`restore of ${path} failed, it stays isolated: ${state.restores[n]!.error}; send restore again`);
  return handle.result();
}

const peers = (allow: IsolationAllow[]) =>
  allow.length === 0
    ? 'nothing'
    : allow
        .map(
          (a) =>
            `${a.direction === 'ingress' ? 'from' : 'to'} ${
              a.cidr ??
              Object.entries(a.podLabels ?? {})
                .map(([k, v]) => `${k}=${v}`)
                .join(',')
            }${a.port ? `:${a.port}` : ''}`,
        )
        .join('; ');

function printState(s: IsolationState): void {
  const r = s.record;
  console.log(
    `${s.phase}: ${workloadPath({ deployment: s.deployment, kind: r?.kind ?? 'Deployment' })}${r ? ` in ${r.namespace}` : ''} (workflow ${s.workflowId}, since ${s.isolatedAt ?? '—'})`,
  );
  if (r)
    console.log(
      `  recorded:  ${r.replicas} replica(s), selector ${Object.entries(r.matchLabels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}`,
    );
  if (r) console.log(`  network:   networkpolicies/${r.policy} denies all ingress and egress except ${peers(s.allow)}`);
  console.log(`  reason:    ${s.reason} (by ${s.requestedBy})`);
  for (const f of s.restores.filter((a) => a.outcome === 'failed'))
    console.log(`  restore failed at ${f.at}: ${f.error}`);
  if (s.phase === 'isolated')
    console.log(
      `  restore with: rekey emergency restore ${s.deployment}${r?.kind === 'StatefulSet' ? ' --statefulset' : ''} --reason "…"`,
    );
}

/** The `emergency` group; other emergency commands (rotate-all) add their subcommands to it. */
export function emergencyCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'emergency') ??
    program
      .command('emergency')
      .description("the runbook's emergency procedures (each needs a reason, written to the audit log)")
  );
}

/** `rekey emergency isolate|restore|status`: the runbook's "Service Compromise → Isolation" as a workflow holding the record. */
export function registerEmergencyCommands(program: Command): void {
  const emergency = emergencyCommand(program);

  emergency
    .command('isolate <deployment>')
    .description(
      'cut a compromised deployment off (emergency NetworkPolicy: deny all but what you list) and scale it to 0; the record is kept for restore',
    )
    .requiredOption('--reason <text>', 'why (at least 10 characters; written to the audit log)', reasonText)
    .option('--allow-ingress-from <peer>', 'k=v[,k=v] or CIDR, optionally :port; repeatable', allowParser('ingress'))
    .option('--allow-egress-to <peer>', 'k=v[,k=v] or CIDR, optionally :port; repeatable', allowParser('egress'))
    .option('--statefulset', 'the workload is a StatefulSet (the registry, PostgreSQL), not a Deployment')
    .option('--json', 'print the isolation record as JSON')
    .action(
      async (
        name: string,
        o: {
          reason: string;
          allowIngressFrom?: IsolationAllow[];
          allowEgressTo?: IsolationAllow[];
          statefulset?: boolean;
          json?: boolean;
        },
      ) => {
        deployment(name);
        const input = {
          deployment: name,
          ...(o.statefulset ? { kind: 'StatefulSet' as const } : {}),
          reason: o.reason,
          requestedBy: operator,
          allow: [...(o.allowIngressFrom ?? []), ...(o.allowEgressTo ?? [])],
        };
        const state = await withClient((client, taskQueue) => isolate(client, taskQueue, input));
        if (o.json) console.log(JSON.stringify(state));
        else printState(state);
      },
    );

  emergency
    .command('restore <deployment>')
    .description('put back exactly what isolation recorded: the replicas, and the emergency policy removed')
    .option('--reason <text>', 'why it is safe again (written to the audit log)')
    .option('--statefulset', 'the workload is a StatefulSet')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: { reason?: string; statefulset?: boolean; json?: boolean }) => {
      deployment(name);
      const kind: WorkloadKind = o.statefulset ? 'StatefulSet' : 'Deployment';
      const result = await withClient((client) =>
        restore(client, name, { reason: o.reason, by: operator }, 120_000, kind),
      );
      if (o.json) console.log(JSON.stringify(result));
      else
        console.log(
          `restored ${workloadPath({ deployment: result.deployment, kind })}: ${result.record.replicas} replica(s), networkpolicies/${result.record.policy} removed (isolated ${result.isolatedAt} → restored ${result.restoredAt} by ${result.restoredBy})`,
        );
    });

  emergency
    .command('status <deployment>')
    .description("the isolation's record and phase")
    .option('--statefulset', 'the workload is a StatefulSet')
    .option('--json')
    .action(async (name: string, o: { statefulset?: boolean; json?: boolean }) => {
      deployment(name);
      const kind: WorkloadKind = o.statefulset ? 'StatefulSet' : 'Deployment';
      const { isolationWorkflowId, isolationQuery } = await definitions();
      const { WorkflowNotFoundError } = await clientErrors();
      const id = isolationWorkflowId(name, kind);
      const state = await withClient((client) => client.workflow.getHandle(id).query(isolationQuery)).catch(
        (err: unknown) => {
          if (err instanceof WorkflowNotFoundError)
            throw new Error(
              `${workloadPath({ deployment: name, kind })} has never been isolated by rekey (no workflow ${id})`,
            );
          throw err;
        },
      );
      if (o.json) console.log(JSON.stringify(state));
      else printState(state);
    });
}
