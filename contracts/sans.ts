import { z } from 'zod';

/** Subject alternative names, spelled one way (workflow-safe: no Node modules, so workflows and activities share it). */
export const isIp = (v: string): boolean => z.ipv4().safeParse(v).success || z.ipv6().safeParse(v).success;

/** `IP Address:1.2.3.4` (Node's spelling) → `IP:1.2.3.4`; a bare name → `DNS:` or `IP:` by its shape; DNS names lowercased. */
export function normalizeSan(san: string): string {
  const s = san.trim();
  const m = /^(DNS|IP Address|IP):(.+)$/i.exec(s);
  if (m) return m[1]!.toUpperCase() === 'DNS' ? `DNS:${m[2]!.toLowerCase()}` : `IP:${m[2]!.toLowerCase()}`;
  return isIp(s) ? `IP:${s.toLowerCase()}` : `DNS:${s.toLowerCase()}`;
}

/** Equal SAN sets, order and spelling aside. */
export function sameSans(a: string[], b: string[]): boolean {
  const norm = (x: string[]) => [...new Set(x.map(normalizeSan))].sort().join('\n');
  return norm(a) === norm(b);
}

/** Whether a client connecting to `host` accepts these SANs (RFC 6125: a wildcard stands for exactly one left-most label). */
export function hostMatchesSans(host: string, sans: string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  const names = sans.map(normalizeSan);
  if (isIp(h)) return names.includes(`IP:${h}`);
  return names.some((n) => {
    if (!n.startsWith('DNS:')) return false;
    const pattern = n.slice(4);
    if (!pattern.startsWith('*.')) return pattern === h;
    const dot = h.indexOf('.');
    return dot > 0 && h.slice(dot + 1) === pattern.slice(2);
  });
}
