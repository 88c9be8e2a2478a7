import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { verifyAuditChain } from '../activities/audit.js';
import { auditLineOf, verifyAuditStream } from '../activities/auditStream.js';
import { loadStackConfig } from './stack/config.js';

// Exit codes: 0 chain intact, 1 chain broken (or torn last line), 2 no such file.
const program = new Command('audit:verify')
  .description(
    'check the hash chain of an audit log: every line links to the one before it, and the last line is complete',
  )
  .argument(
    '[file]',
    "audit log (JSONL), or the workers' shipped stdout (REKEY_AUDIT_LOG=stdout: one chain per writer); default $REKEY_AUDIT_LOG, else the embedded stack's",
  )
  .option('--json', 'print the report as JSON')
  .parse();

const file =
  program.args[0] ?? process.env.REKEY_AUDIT_LOG ?? path.join(loadStackConfig().dir, 'audit', 'rotations.jsonl');
const { json } = program.opts<{ json?: boolean }>();

if (!fs.existsSync(file)) {
  if (json) console.log(JSON.stringify({ file, ok: false, reason: 'no such file' }));
  else console.error(`no such file: ${file}`);
  process.exit(2);
}

// the workers' stdout as the log shipper kept it: every writer's chain
if (
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .some((l) => auditLineOf(l))
) {
  const stream = await verifyAuditStream(file);
  if (json) console.log(JSON.stringify({ file, ...stream }, null, 2));
  else {
    console.log(
      `${stream.ok ? "ok: every writer's chain intact" : 'BROKEN'} (${file}): ${stream.lines} audit lines from ${stream.writers.length} writer(s)`,
    );
    for (const w of stream.writers)
      console.log(
        `  ${w.problem ? '✗' : '✓'} ${w.writer}: seq ${w.firstSeq}…${w.lastSeq}${w.firstSeq > 1 ? ' (earlier lines not in this file)' : ''}, head ${w.head}${w.problem ? `: ${w.problem}` : ''}`,
      );
    if (stream.repeatedEventIds)
      console.log(
        `  ${stream.repeatedEventIds} event(s) recorded by two writers (an activity retried on another replica)`,
      );
  }
  process.exit(stream.ok ? 0 : 1);
}

const report = await verifyAuditChain(file);
if (json) {
  console.log(JSON.stringify({ file, ...report }, null, 2));
} else {
  const span = report.firstTimestamp ? `, ${report.firstTimestamp} … ${report.lastTimestamp}` : '';
  const summary = [
    `${report.lines} lines`,
    `${report.workflows} workflow${report.workflows === 1 ? '' : 's'}${span}`,
    `head ${report.head}`,
  ];
  if (report.ok) {
    console.log(`ok: chain intact (${file})`);
    console.log(`  ${summary.join('\n  ')}`);
    if (report.duplicateEventIds)
      console.log(`  warning: ${report.duplicateEventIds} line(s) repeat an earlier eventId`);
    console.log('  (a cut tail cannot be seen from the file alone: compare the head with one recorded earlier)');
  } else {
    console.error(`BROKEN at line ${report.brokenAt} of ${report.lines}: ${report.reason} (${file})`);
    console.error(`  intact up to line ${(report.brokenAt ?? 1) - 1}, head there ${report.head}`);
    if (report.repair) console.error(`  ${report.repair}`);
  }
}
process.exit(report.ok ? 0 : 1);
