import path from 'node:path';
import type { StackConfig } from './config.js';

export interface Service {
  name: string;
  /** Where an operator or a client reaches it. */
  url(cfg: StackConfig): string;
  /** Loopback ports the service binds; checked before start. */
  ports(cfg: StackConfig): number[];
  /** Builds or fetches the service into the cache (no-op when cached). */
  install(cfg: StackConfig): Promise<void>;
  /** Starts it detached and returns once it answers a real request. */
  start(cfg: StackConfig): Promise<void>;
  /** One real request (not just an open port). */
  healthy(cfg: StackConfig): Promise<boolean>;
  /** Creates the sample data, users and secrets it needs; idempotent. */
  seed?(cfg: StackConfig): Promise<void>;
  stop(cfg: StackConfig): Promise<void>;
  /** Extra fields for `stack:status --json`. */
  extra?(cfg: StackConfig): Record<string, unknown>;
}

export const logPath = (cfg: StackConfig, name: string) => path.join(cfg.logDir, `${name}.log`);
export const installScript = (file: string) => path.join(path.dirname(new URL(import.meta.url).pathname), file);
