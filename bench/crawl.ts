// Crawl benchmark against the local OpenNeuro server (in its own process, faults off):
//  1. listing all 135 skeletons through the crawler's GraphQL client: entries/s and peak RSS;
//  2. download throughput on loopback as a ratio to plain `curl` fetching the same files in the
//     same run (same concurrency). Headline: `crawl: <download ratio to curl>`.
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import readline from 'node:readline';
import { candidateUrls, downloadFile, listCatalog, listSnapshotFiles, selectFiles, HostLimiter } from '../services/openneuro/index.js';
import { repoRoot } from '../services/config.js';

async function startServer(): Promise<{ url: string; pid: number; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'cli', 'main.ts'), 'fake-openneuro', '--port', '0'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'] });
  const url = await new Promise<string>((resolve) => readline.createInterface({ input: child.stdout! }).once('line', resolve));
  return { url: url.trim(), pid: child.pid!, stop: () => child.kill('SIGTERM') };
}

function vmHwmMb(pid: number): number {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}

async function inParallel<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++]);
  }));
}

export default async function main(args: string[]): Promise<void> {
  const concurrency = Number(args[0] ?? 8);
  const server = await startServer();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openmind-bench-crawl-'));
  try {
    // 1. Listing.
    const t0 = performance.now();
    const catalog = await listCatalog(server.url, { modality: null });
    let entries = 0;
    const listings: Record<string, Awaited<ReturnType<typeof listSnapshotFiles>>> = {};
    await inParallel(catalog, 4, async (c) => {
      const l = await listSnapshotFiles(server.url, c.datasetId, c.tag);
      entries += l.files.length;
      listings[c.datasetId] = l;
    });
    const listS = (performance.now() - t0) / 1000;
    console.log(`listing: ${catalog.length} datasets, ${entries} file entries in ${listS.toFixed(1)} s = ${Math.round(entries / listS)} entries/s`);
    console.log(`peak RSS: crawler ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB, server ${vmHwmMb(server.pid).toFixed(0)} MB`);

    // 2. Download throughput: the selected images of the first datasets, about 64 MB.
    const files: { url: string; key: string; size: number; name: string }[] = [];
    let bytes = 0;
    for (const ds of Object.keys(listings).sort()) {
      for (const f of selectFiles(listings[ds].files).filter((f) => f.role === 'image')) {
        files.push({ url: candidateUrls(f, { endpoint: server.url, datasetId: ds })[0], key: f.key, size: f.size ?? 0, name: `${ds}_${files.length}` });
        bytes += f.size ?? 0;
      }
      if (bytes > 64e6) break;
    }
    // Warm the server's synthesis cache so both clients read the same ready bytes.
    await inParallel(files, concurrency, async (f) => void (await fetch(f.url).then((r) => r.arrayBuffer())));
    const limiter = new HostLimiter(concurrency);
    const t1 = performance.now();
    await inParallel(files, concurrency, async (f) => void (await downloadFile({ urls: [f.url], dest: path.join(tmp, 'ours', f.name), key: f.key, expectedSize: f.size, hostLimiter: limiter })));
    const oursS = (performance.now() - t1) / 1000;
    const cfg = path.join(tmp, 'curl.cfg');
    fs.mkdirSync(path.join(tmp, 'curl'), { recursive: true });
    fs.writeFileSync(cfg, files.map((f) => `url = "${f.url}"\noutput = "${path.join(tmp, 'curl', f.name)}"`).join('\n'));
    const t2 = performance.now();
    execFileSync('curl', ['-s', '--no-progress-meter', '--parallel', '--parallel-max', String(concurrency), '-K', cfg]);
    const curlS = (performance.now() - t2) / 1000;
    const mb = bytes / 1e6;
    console.log(`download: ${files.length} files, ${mb.toFixed(1)} MB, ${concurrency} at once`);
    console.log(`  ours (verified against annex MD5, sha256 recorded, atomic rename): ${oursS.toFixed(2)} s = ${(mb / oursS).toFixed(1)} MB/s`);
    console.log(`  curl (no verification): ${curlS.toFixed(2)} s = ${(mb / curlS).toFixed(1)} MB/s`);
    console.log(`crawl: ${(curlS / oursS).toFixed(2)}`);
  } finally {
    server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
