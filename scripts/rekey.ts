import fs from 'node:fs';
import path from 'node:path';
import { runRekey } from '../cli/main.js';
import { stackWorkerDefaults } from './lib/session.js';
import { loadStackConfig } from './stack/config.js';

/**
 * `npm run rekey -- …`: the product CLI (cli/) pointed at the embedded stack. Unset REKEY_*
 * settings default to the stack's (its generated codec key included); the installed `rekey`
 * reads the environment alone.
 */
const stack = loadStackConfig();
const env = { ...process.env };
const stackKey = path.join(stack.dir, 'codec.key');
if (!env.REKEY_CODEC_KEY && !env.REKEY_CODEC_KEY_FILE && fs.existsSync(stackKey)) env.REKEY_CODEC_KEY_FILE = stackKey;
// the stack is the server here unless --address or REKEY_TEMPORAL_ADDRESS says otherwise (not a TEMPORAL_ADDRESS exported for another)
await runRekey(process.argv.slice(2), { env, defaults: stackWorkerDefaults(stack), ignoreTemporalCliEnv: true });
