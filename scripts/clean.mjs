#!/usr/bin/env node
// Removes tsc's last output before a build (part of `npm run build`): tsc
// never deletes, so a module moved or removed in src/ or test/ would live on
// in dist/ — ava would run its old test, and `npm pack` would ship it.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

for (const dir of ['dist/src', 'dist/test']) rmSync(fileURLToPath(new URL(`../${dir}`, import.meta.url)), { recursive: true, force: true });
