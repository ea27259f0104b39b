// Custom search attributes: find any crawl's, dataset's or scan's runs in the Temporal UI.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const CrawlId = defineSearchAttributeKey('CrawlId', SearchAttributeType.KEYWORD);
export const DatasetId = defineSearchAttributeKey('DatasetId', SearchAttributeType.KEYWORD);
export const ScanId = defineSearchAttributeKey('ScanId', SearchAttributeType.KEYWORD);
export const Modality = defineSearchAttributeKey('Modality', SearchAttributeType.KEYWORD);
export const Step = defineSearchAttributeKey('Step', SearchAttributeType.KEYWORD);
export const Status = defineSearchAttributeKey('Status', SearchAttributeType.KEYWORD);

export const ALL_SEARCH_ATTRIBUTES = [CrawlId, DatasetId, ScanId, Modality, Step, Status];
