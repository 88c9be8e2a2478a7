import { metricMeter } from '@temporalio/workflow';
import type { ScannedCertificate } from '../../contracts/managedCertificates.js';

/** The certificate metrics, as scraped (no imports: the alert tests and docs read the names from here). */
export const certificateMetricNames = {
  expiryDays: 'rekey_certificate_expiry_days',
  notAfter: 'rekey_certificate_not_after_timestamp_seconds',
} as const;

/**
 * Days to expiry of each scanned certificate, labelled by secret and service, through the
 * workflow meter (sent on first execution only, nothing in history). `not_after` lets an alert
 * count down between scans (`… - time()`); `expiry_days` is what the scan saw (0 once expired).
 */
export function certificateExpiryGauges(certs: ScannedCertificate[], now: number): void {
  const days = metricMeter.createGauge(
    certificateMetricNames.expiryDays,
    'float',
    'd',
    'days until the certificate expires, as of the last scan',
  );
  const notAfter = metricMeter.createGauge(
    certificateMetricNames.notAfter,
    'float',
    's',
    'unix time the certificate expires (notAfter)',
  );
  for (const c of certs) {
    if ('error' in c) continue;
    const tags = { secret: c.secret, service: c.service };
    // the SDK's gauges take no negative values: an expired certificate shows 0 here, and below zero in `not_after - time()`
    days.set(Math.max(0, (Date.parse(c.notAfter) - now) / 86_400_000), tags);
    notAfter.set(Date.parse(c.notAfter) / 1000, tags);
  }
}
