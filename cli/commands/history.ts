// `openmind history <scan-id>`: a scan's whole timeline from the audit trail.
import type { DB } from '../../db/database.js';
import { eventsOfScan } from '../../db/repositories/scan-events.js';
import { stepOutputsOfScan } from '../../db/repositories/step-outputs.js';
import { findScan } from '../../db/repositories/scans.js';
import { derivedFilesOfScan } from '../../db/repositories/derived-files.js';

export interface ScanHistory {
  scan: Record<string, unknown> | null;
  events: Record<string, unknown>[];
  outputs: Record<string, unknown>[];
  derived: Record<string, unknown>[];
}

export async function scanHistory(db: DB, scanId: string): Promise<ScanHistory> {
  const scan = await findScan(db, scanId);
  const events = await eventsOfScan(db, scanId);
  const outputs = await stepOutputsOfScan(db, scanId);
  const derived = await derivedFilesOfScan(db, scanId);
  return { scan, events, outputs, derived };
}

const short = (h: unknown) => (typeof h === 'string' && h ? h.slice(0, 12) : '-');

export function formatHistory(h: ScanHistory, scanId: string): string {
  if (!h.scan) return `no scan ${scanId} in the database (scan ids look like ds000001:sub-01/anat/sub-01_T1w)`;
  const s = h.scan as any;
  const lines = [
    `scan ${s.id}`,
    `  file      ${s.file_path}`,
    `  modality  ${s.modality} (${s.kind}), status ${s.status}${s.failure_reason ? ` — ${s.failure_step}: ${s.failure_reason}: ${s.failure_message}` : ''}`,
    `  sha256    ${s.content_hash ?? '-'}   dims ${JSON.stringify(s.dims ?? null)} voxel ${JSON.stringify(s.voxel_size ?? null)}`,
    '',
    'timeline (one row per step attempt):',
  ];
  for (const e of h.events as any[]) {
    const when = new Date(e.started_at).toISOString().replace('T', ' ').slice(0, 23);
    lines.push(
      `  ${when}  ${String(e.step).padEnd(18)} #${e.attempt} ${String(e.status).padEnd(9)} ${String(e.duration_ms ?? '-').padStart(6)} ms  ` +
        `in ${short(e.input_hash)} out ${short(e.output_hash)}  ${e.worker_identity}  ${e.workflow_id}` +
        (e.error_message ? `\n      ${e.error_type}: ${e.error_message}` : ''),
    );
  }
  if (h.derived.length) {
    lines.push('', 'derived files:');
    for (const d of h.derived as any[]) {
      const p = d.provenance ?? {};
      const by = p.GeneratedBy ? `${p.GeneratedBy.Name} ${p.GeneratedBy.Version}${p.GeneratedBy.Method ? ` (${p.GeneratedBy.Method})` : ''}` : '';
      const ep = p.executionProvider ? `, ${p.executionProvider}${p.fellBackToCpu ? ` (fell back to CPU: ${p.fallbackReason ?? ''})` : ''}` : '';
      const anon = p.anonymization ? `, anonymization ${p.anonymization.type} (${p.anonymization.confidence}, ${p.anonymization.source})` : '';
      lines.push(`  ${d.kind.padEnd(12)} ${d.path}  sha256 ${short(d.content_hash)}  ${by}${ep}${anon}`);
    }
  }
  const meta = s.metadata as { export?: Record<string, unknown>; acquisition?: Record<string, any>; participant?: Record<string, any> } | null;
  if (meta?.acquisition || meta?.participant) {
    lines.push('', 'metadata (value ← source, rule, confidence):');
    for (const [k, v] of Object.entries({ ...(meta.participant ?? {}), ...(meta.acquisition ?? {}) })) {
      if (v && typeof v === 'object' && 'provenance' in v) {
        const p = (v as any).provenance ?? {};
        lines.push(`  ${k.padEnd(24)} ${JSON.stringify((v as any).value)} ← ${p.file ?? '?'}:${p.field ?? '?'} (${p.rule ?? '?'}, ${p.confidence ?? '?'})`);
      }
    }
  }
  return lines.join('\n');
}
