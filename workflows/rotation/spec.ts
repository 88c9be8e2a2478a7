import type { Component } from '../../contracts/checklist.js';
import type { ValidationTargetNames } from '../../contracts/input/validation.js';
import type { MaintenanceWindow } from '../../contracts/window.js';

/** What a procedure tells the kit when its rotation begins. */
export interface RotationSpec {
  /** e.g. `postgresql-cdc`: the workflow id prefix and the RotationComponent search attribute. */
  procedure: string;
  /** Component name in the audit log (the runbook's spelling, e.g. `postgresql_cdc`). */
  component: string;
  /**
   * The metrics' `component` label when one procedure rotates several credentials of one target
   * (the registry's accounts): each gets its own last-success series, so the overdue alert sees
   * each. Metrics are not in history: no patch needed. Default: `component`.
   */
  metricsComponent?: string;
  target: string;
  /** What one rotation at a time is keyed on: the workflow id is `rotate-<procedure>/<resource>`. */
  resource: string;
  reason: string;
  requestedBy: string;
  dryRun: boolean;
  /** Test drills only (accepted by workers started with test hooks): fail after this step. */
  injectFailure?: string;
  details: Record<string, string>;
  /** Shown in the Web UI's memo. */
  memo: Record<string, unknown>;
  /**
   * Whether audit appends are chained in event order. New procedures: always. The CDC
   * procedure decides it with `patched('ordered-audit')` before its first local activity: a
   * patch marker recorded right after a local-activity marker does not replay (TMPRL1100).
   */
  orderedAudit: boolean;
  /**
   * The workload this procedure restarts (`connector/<name>`): leased from its first change
   * through verification, so no other procedure restarts it meanwhile (rotation/lease.ts).
   */
  lease?: string;
  /** Scheduled runs: the switch must start inside this window, or the rotation ends without switching. */
  maintenanceWindow?: MaintenanceWindow;
  /** The final verification: these components' checklist lines, run after cleanup (reported, never rolled back: the old credential is gone by then). */
  validation?: { components: Component[]; targets: Partial<ValidationTargetNames> };
}

/** What every credential procedure's resolved plan carries, as the kit reads it. */
export interface RotationPlanBasics {
  target: string;
  /** The credential's secret: the resource one rotation at a time is keyed on. */
  secret: string;
  reason: string;
  requestedBy: string;
  dryRun: boolean;
  injectFailure?: string;
  maintenanceWindow?: MaintenanceWindow;
}
