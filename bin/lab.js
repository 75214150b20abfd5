#!/usr/bin/env node
// Compiled by `npm install` (prepare → tsc). Kept tiny: everything lives in src/.
import { main } from '../dist/cli/main.js';
await main();
