#!/bin/sh
# The namespace (30-day retention: audits need closed runs longer than the dev server's 24 h) and
# the pipeline's search attributes.
set -u
until temporal operator cluster health --address temporal:7233 >/dev/null 2>&1; do sleep 2; done
temporal operator namespace describe --address temporal:7233 -n "${TEMPORAL_NAMESPACE:-default}" >/dev/null 2>&1 ||
  temporal operator namespace create --address temporal:7233 -n "${TEMPORAL_NAMESPACE:-default}" --retention 720h
for sa in CrawlId DatasetId ScanId Modality Step Status; do
  temporal operator search-attribute create --address temporal:7233 -n "${TEMPORAL_NAMESPACE:-default}" --name "$sa" --type Keyword || true
done
