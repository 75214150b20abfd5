#!/usr/bin/env node
// Compiled by `npm install` (prepare → tsc). Kept tiny: the engine lives in src/, each lab in labs/<id>/.
import { main } from '../dist/src/cli/main.js';
await main();
