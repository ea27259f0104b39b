// qualityRating: one dataset × modality, long-lived. Waits for the rating tool's `rated` signals
// until two different raters agree (mean), or a third decides a disagreement of 2+ (median); then
// writes the score to every image of that dataset × modality and refreshes the export table.
// Until then the predicted score from the automatic metrics is stored apart, marked predicted.
// Input: { datasetId, modality, exportDir? }. Output: the final status and score.
import { condition, continueAsNew, defineQuery, defineSignal, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { activitiesFor, writeCollectionFiles } from './activity-stubs.js';
import { DatasetId, Modality, Status, Step } from './search-attributes.js';

export interface QualityRatingInput {
  datasetId: string;
  modality: string;
  exportDir?: string;
}

export interface QualityState {
  status: string;
  score: number | null;
  source: string;
  raters: string[];
}

export const ratedSignal = defineSignal<[{ rater: string; score?: number }]>('rated');
export const qualityProgressQuery = defineQuery<QualityState>('progress');

export function qualityWorkflowId(datasetId: string, modality: string): string {
  return `quality/${datasetId}/${modality}`;
}

export async function qualityRating(input: QualityRatingInput): Promise<QualityState> {
  const acts = activitiesFor();
  let signals = 0;
  setHandler(ratedSignal, () => void signals++);
  let state: QualityState = await acts.io.applyQualityScore(input);
  setHandler(qualityProgressQuery, () => state);
  upsertSearchAttributes([{ key: DatasetId, value: input.datasetId }, { key: Modality, value: input.modality }]);
  while (state.status !== 'final') {
    const waitingFor = state.status === 'needs_third' ? 'a third rater' : state.raters.length ? `a second rater (rated by ${state.raters.join(', ')})` : 'two raters';
    upsertSearchAttributes([{ key: Step, value: state.status === 'needs_third' ? 'awaiting_third_rater' : 'awaiting_rater' }, { key: Status, value: 'waiting' }]);
    setCurrentDetails(`**${input.datasetId} × ${input.modality}** awaits ${waitingFor}` + (state.source === 'predicted' ? `; predicted score ${state.score}` : ''));
    await condition(() => signals > 0);
    signals = 0;
    state = await acts.io.applyQualityScore(input);
    if (state.status !== 'final' && workflowInfo().continueAsNewSuggested) await continueAsNew<typeof qualityRating>(input);
  }
  await writeCollectionFiles(acts, { datasetId: input.datasetId, exportDir: input.exportDir });
  upsertSearchAttributes([{ key: Step, value: 'done' }, { key: Status, value: 'completed' }]);
  setCurrentDetails(`**${input.datasetId} × ${input.modality}**: score ${state.score} from ${state.raters.join(', ')}`);
  return state;
}
