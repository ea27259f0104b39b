#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx openmind` works in a checkout without a build step.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// `--import tsx` keeps one process (tsx's own CLI would add a child), so signals reach the CLI.
const tsx = import.meta.resolve('tsx');
const r = spawnSync(process.execPath, ['--import', tsx, path.join(here, '..', 'cli', 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
