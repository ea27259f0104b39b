#!/bin/sh
# Create and migrate the Temporal persistence and visibility schemas on PostgreSQL (idempotent).
set -eu
for db in temporal temporal_visibility; do
  dir=/etc/temporal/schema/postgresql/v12/temporal/versioned
  [ "$db" = temporal_visibility ] && dir=/etc/temporal/schema/postgresql/v12/visibility/versioned
  temporal-sql-tool --plugin postgres12 --ep temporal-db -p 5432 -u temporal --pw temporal --db "$db" create || true
  temporal-sql-tool --plugin postgres12 --ep temporal-db -p 5432 -u temporal --pw temporal --db "$db" setup-schema -v 0.0 || true
  temporal-sql-tool --plugin postgres12 --ep temporal-db -p 5432 -u temporal --pw temporal --db "$db" update-schema -d "$dir"
done
