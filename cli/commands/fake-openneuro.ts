// `openmind fake-openneuro`: run the local OpenNeuro-compatible server (real skeletons,
// synthesized images, optional faults) until SIGINT/SIGTERM.
import { startFakeOpenNeuro } from '../../services/fake-openneuro/index.js';
import { untilSignal } from '../signals.js';

export interface FakeOpenNeuroCommandOptions {
  /** Folder of <ds>.tar.gz skeletons (default ../shared/openneuro). */
  skeletons?: string;
  port?: number;
  /** Fault spec, e.g. "error=0.1,429=0.05,reset=0.05,seed=42". */
  faults?: string;
  /** Comma-separated dataset ids to serve (default all). */
  datasets?: string;
  host?: string;
  /** Extra datasets cloned from the skeletons (ds9xxxxx). */
  replicate?: number;
}

export async function runFakeOpenNeuro(opts: FakeOpenNeuroCommandOptions = {}): Promise<void> {
  const datasets = opts.datasets?.split(',').map((s) => s.trim()).filter(Boolean);
  const server = await startFakeOpenNeuro({
    skeletonsDir: opts.skeletons,
    port: opts.port,
    host: opts.host,
    faults: opts.faults,
    datasets: datasets?.length ? datasets : undefined,
    replicate: opts.replicate,
  });
  // The URL on stdout alone, so scripts can read it; the rest goes to stderr.
  console.log(server.url);
  console.error(`fake OpenNeuro: ${server.datasetIds().length} datasets, GraphQL at ${server.url}/crn/graphql${opts.faults ? `, faults ${opts.faults}` : ''}; Ctrl-C to stop`);
  await untilSignal();
  const stats = server.stats();
  await server.close();
  console.error(`fake OpenNeuro stopped: ${stats.requests} requests, ${stats.files.bytesServed} bytes served, faults ${JSON.stringify(stats.faults)}`);
}

// Run directly: `tsx cli/commands/fake-openneuro.ts [--port N] [--faults SPEC] [--datasets a,b] [--skeletons DIR]`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const value = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  runFakeOpenNeuro({
    port: value('port') ? Number(value('port')) : undefined,
    faults: value('faults'),
    datasets: value('datasets'),
    skeletons: value('skeletons'),
    host: value('host'),
    replicate: value('replicate') ? Number(value('replicate')) : undefined,
  }).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
