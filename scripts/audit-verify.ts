import { Command } from 'commander';
import { verifyAuditChain } from '../activities/audit.js';
import { loadStackConfig } from './stack/config.js';
import path from 'node:path';

const program = new Command('audit:verify')
  .description('check the hash chain of an audit log: every line links to the one before it')
  .argument('[file]', 'audit log (JSONL)', process.env.REKEY_AUDIT_LOG ?? path.join(loadStackConfig().dir, 'audit', 'rotations.jsonl'))
  .parse();

const file = program.args[0]!;
const result = await verifyAuditChain(file);
if (result.ok) {
  console.log(`ok: ${result.lines} lines, chain intact (${file})`);
} else {
  console.error(`BROKEN at line ${result.brokenAt} of ${result.lines}: ${result.reason} (${file})`);
  process.exit(1);
}
