import fs from 'node:fs';
import { registrySecret } from '../stack/registry.js';
import { pipeline, type StackConfig } from '../stack/config.js';
import { registryClientAccount } from '../stack/connect.js';
import { logPath } from '../stack/service.js';
import { connectFetch } from '../stack/connectRest.js';

/**
 * What clients of the Schema Registry see during a rotation. A well-behaved client re-reads
 * its mounted credential before each request (as the connector's converter does when its task
 * restarts): every 100 ms the probe reads `<account>-user/-password` from the secret and asks
 * the registry. It counts answers by status and measures how long the registry was unreachable;
 * the Connect task's state is sampled too. From the registry's side, its access log is scanned
 * for 401s written while the probe ran.
 */
export class RegistryProbe {
  readonly statuses: Record<string, number> = {};
  /** Each stretch of "connection refused" (a restart): start and length. */
  readonly outages: Array<{ from: number; ms: number }> = [];
  readonly taskStates: Record<string, number> = {};
  private timer?: NodeJS.Timeout;
  private outageStart: number | null = null;
  private logStart = 0;
  private logEnd = 0;
  private marked = false;
  private busy = false;

  constructor(
    private readonly cfg: StackConfig,
    private readonly account = registryClientAccount,
  ) {}

  start(): void {
    this.logStart = fs.existsSync(this.log) ? fs.statSync(this.log).size : 0;
    this.timer = setInterval(() => void this.tick(), 100);
  }

  /**
   * Ends the registry-side window: phase 3 deliberately proves the old user refused (its own
   * 401s); client answers are still counted until stop().
   */
  markRemoval(): void {
    if (this.marked) return;
    this.marked = true;
    this.logEnd = fs.existsSync(this.log) ? fs.statSync(this.log).size : 0;
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.outageStart !== null) this.outages.push({ from: this.outageStart, ms: Date.now() - this.outageStart });
    this.outageStart = null;
    this.markRemoval();
  }

  private get log() {
    return logPath(this.cfg, 'schema-registry');
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.sample();
    } catch {
      // a sample that could not be taken (the secret rewritten mid-read) is counted, never thrown
      this.statuses['probe-error'] = (this.statuses['probe-error'] ?? 0) + 1;
    } finally {
      this.busy = false;
    }
  }

  private async sample(): Promise<void> {
    // what a client re-reading its credential sees: the pipeline's store (file or Kubernetes Secret)
    const secret = await registrySecret(this.cfg);
    const user = secret?.data[`${this.account}-user`];
    const password = secret?.data[`${this.account}-password`];
    const auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const res = await fetch(`http://127.0.0.1:${this.cfg.ports.registry}/apis/ccompat/v7/subjects`, {
      headers: { authorization: auth },
      signal: AbortSignal.timeout(2000),
    }).catch(() => undefined);
    const key = res ? String(res.status) : 'unreachable';
    this.statuses[key] = (this.statuses[key] ?? 0) + 1;
    if (!res && this.outageStart === null) this.outageStart = Date.now();
    if (res && this.outageStart !== null) {
      this.outages.push({ from: this.outageStart, ms: Date.now() - this.outageStart });
      this.outageStart = null;
    }
    const status = await connectFetch(
      `http://127.0.0.1:${this.cfg.ports.connect}/connectors/${pipeline.connector}/status`,
      {
        signal: AbortSignal.timeout(2000),
      },
    ).catch(() => undefined);
    const tasks = status?.ok ? ((await status.json()) as { tasks: Array<{ state: string }> }).tasks : [];
    for (const t of tasks) this.taskStates[t.state] = (this.taskStates[t.state] ?? 0) + 1;
  }

  /** 401 answers the registry logged between start() and stop() (access log lines `access "<request>" 401 <user>`). */
  registry401s(): number {
    if (!fs.existsSync(this.log)) return 0;
    const fd = fs.openSync(this.log, 'r');
    try {
      const len = Math.max(0, this.logEnd - this.logStart);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, this.logStart);
      return buf
        .toString('utf8')
        .split('\n')
        .filter((l) => /access ".*" 401\b/.test(l)).length;
    } finally {
      fs.closeSync(fd);
    }
  }

  summary() {
    return {
      clientAnswers: { ...this.statuses },
      client401: this.statuses['401'] ?? 0,
      registry401: this.registry401s(),
      registryUnreachableMs: this.outages.map((o) => o.ms),
      connectorTaskStatesSampled: { ...this.taskStates },
    };
  }
}
