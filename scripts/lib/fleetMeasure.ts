import fs from 'node:fs';
import type { Client } from '@temporalio/client';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** RSS and CPU of a set of processes, sampled from /proc (what `ps` would show), every `everyMs`. */
export class ProcessSampler {
  private timer?: NodeJS.Timeout;
  private readonly last = new Map<number, { ticks: number; at: number }>();
  readonly peakRssMb = new Map<number, number>();
  readonly cpuSamples = new Map<number, number[]>();

  constructor(
    private readonly pids: number[],
    private readonly everyMs = 500,
  ) {}

  private read(pid: number): { rssMb: number; ticks: number } | undefined {
    try {
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      // fields after the command name: utime and stime are the 12th and 13th
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { rssMb: rssKb / 1024, ticks: Number(fields[11]) + Number(fields[12]) };
    } catch {
      return undefined;
    }
  }

  private sample(): void {
    const now = Date.now();
    for (const pid of this.pids) {
      const s = this.read(pid);
      if (!s) continue;
      this.peakRssMb.set(pid, Math.max(this.peakRssMb.get(pid) ?? 0, s.rssMb));
      const prev = this.last.get(pid);
      if (prev && now > prev.at) {
        const cpu = ((s.ticks - prev.ticks) / TICKS_PER_SECOND / ((now - prev.at) / 1000)) * 100;
        this.cpuSamples.set(pid, [...(this.cpuSamples.get(pid) ?? []), cpu]);
      }
      this.last.set(pid, { ticks: s.ticks, at: now });
    }
  }

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
  }

  stop(): Array<{ pid: number; peakRssMb: number; meanCpuPercent: number; peakCpuPercent: number }> {
    clearInterval(this.timer);
    this.sample();
    return this.pids.map((pid) => {
      const cpu = this.cpuSamples.get(pid) ?? [];
      return {
        pid,
        peakRssMb: Math.round(this.peakRssMb.get(pid) ?? 0),
        meanCpuPercent: cpu.length ? Math.round(cpu.reduce((a, b) => a + b, 0) / cpu.length) : 0,
        peakCpuPercent: Math.round(Math.max(0, ...cpu)),
      };
    });
  }
}

export const percentile = (values: number[], p: number): number | null => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};

export interface HistoryFigures {
  /** Billable actions as Temporal Cloud counts them from history (heartbeats are not in history and not counted). */
  actions: number;
  events: number;
  activityRetries: number;
  /** Activity attempts started, by worker identity. */
  startedBy: Record<string, number>;
}

/**
 * Reads a workflow's history and counts what a Temporal Cloud bill would: the start, each
 * activity attempt, timers, signals, child starts, search-attribute upserts and markers
 * (local activities, patches).
 */
export async function historyFigures(client: Client, workflowId: string): Promise<HistoryFigures> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const f: HistoryFigures = { actions: 0, events: 0, activityRetries: 0, startedBy: {} };
  for (const e of history.events ?? []) {
    f.events++;
    if (
      e.workflowExecutionStartedEventAttributes ||
      e.timerStartedEventAttributes ||
      e.workflowExecutionSignaledEventAttributes
    )
      f.actions++;
    if (
      e.startChildWorkflowExecutionInitiatedEventAttributes ||
      e.upsertWorkflowSearchAttributesEventAttributes ||
      e.markerRecordedEventAttributes
    )
      f.actions++;
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      // one event for all attempts: it is written when the last attempt starts
      f.actions += started.attempt ?? 1;
      f.activityRetries += Math.max(0, (started.attempt ?? 1) - 1);
      const who = started.identity ?? '?';
      f.startedBy[who] = (f.startedBy[who] ?? 0) + 1;
    }
  }
  return f;
}
