import type { ActivityDeps } from './deps.js';
import type { StepResult } from '../lib/pipeline-types.js';
import { runIdempotentStep } from './ledger.js';
export function createMetadataActivities(deps: ActivityDeps) {
  async function harmonizeMetadata(input: { datasetId: string }): Promise<StepResult<unknown>> {
    const ds = await deps.db.selectFrom('datasets').select(['id', 'version']).where('id', '=', input.datasetId).executeTakeFirstOrThrow();
    return runIdempotentStep(deps.db, { datasetId: ds.id, scanId: null, step: 'harmonizeMetadata', stepVersion: '0', inputHash: ds.version ?? '' }, { compute: async () => ({ result: {}, outputHash: 'x' }) });
  }
  return { harmonizeMetadata };
}
