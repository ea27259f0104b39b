// `npm run bench -- <name> [args]`: runs bench/<name>.ts, whose default export prints its figures
// with the headline last as `<name>: <value>`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const [name, ...args] = process.argv.slice(2);
const available = fs.readdirSync(here).filter((f) => f.endsWith('.ts') && f !== 'run.ts').map((f) => f.replace(/\.ts$/, ''));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name> [args]\nbenchmarks: ${available.join(', ')}`);
  process.exit(name ? 1 : 0);
}
const mod = await import(pathToFileURL(path.join(here, `${name}.ts`)).href);
await mod.default(args);
