#!/usr/bin/env node
import { runRekey } from './main.js';

/** `rekey` as installed (npm bin, the worker image): configuration from the environment only. */
await runRekey(process.argv.slice(2));
