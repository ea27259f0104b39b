import { sql, type Kysely } from 'kysely';

// Initial schema: datasets → subjects/sessions → scans → derived files, the step ledger,
// and the append-only scan_events audit trail.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('crawls')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('input', 'jsonb', (c) => c.notNull())
    .addColumn('summary', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('datasets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('source_kind', 'text', (c) => c.notNull())
    .addColumn('source_uri', 'text', (c) => c.notNull())
    .addColumn('version', 'text')
    .addColumn('hexsha', 'text')
    .addColumn('doi', 'text')
    .addColumn('name', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('failure_reason', 'text')
    .addColumn('metadata', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('subjects')
    .addColumn('dataset_id', 'text', (c) => c.notNull().references('datasets.id').onDelete('cascade'))
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('metadata', 'jsonb')
    .addPrimaryKeyConstraint('subjects_pk', ['dataset_id', 'subject_id'])
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('dataset_id', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('metadata', 'jsonb')
    .addPrimaryKeyConstraint('sessions_pk', ['dataset_id', 'subject_id', 'session_id'])
    .addForeignKeyConstraint('sessions_subject_fk', ['dataset_id', 'subject_id'], 'subjects', ['dataset_id', 'subject_id'], (c) => c.onDelete('cascade'))
    .execute();

  await db.schema
    .createTable('scans')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('dataset_id', 'text', (c) => c.notNull().references('datasets.id').onDelete('cascade'))
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('datatype', 'text', (c) => c.notNull())
    .addColumn('suffix', 'text', (c) => c.notNull())
    .addColumn('modality', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('file_path', 'text', (c) => c.notNull())
    .addColumn('bytes', 'bigint')
    .addColumn('annex_key', 'text')
    .addColumn('content_hash', 'text')
    .addColumn('dims', 'jsonb')
    .addColumn('voxel_size', 'jsonb')
    .addColumn('datatype_name', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('failure_step', 'text')
    .addColumn('failure_reason', 'text')
    .addColumn('failure_message', 'text')
    .addColumn('metadata', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('scans_dataset_idx').on('scans').columns(['dataset_id', 'id']).execute();
  await db.schema.createIndex('scans_status_idx').on('scans').columns(['dataset_id', 'status']).execute();

  await db.schema
    .createTable('step_outputs')
    .addColumn('step_key', 'text', (c) => c.primaryKey())
    .addColumn('scan_id', 'text')
    .addColumn('dataset_id', 'text', (c) => c.notNull())
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('step_version', 'text', (c) => c.notNull())
    .addColumn('input_hash', 'text', (c) => c.notNull())
    .addColumn('params_hash', 'text', (c) => c.notNull())
    .addColumn('output_hash', 'text', (c) => c.notNull())
    .addColumn('result', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('step_outputs_scan_idx').on('step_outputs').columns(['scan_id', 'step']).execute();

  await db.schema
    .createTable('derived_files')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('scan_id', 'text', (c) => c.notNull().references('scans.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('step_key', 'text', (c) => c.notNull())
    .addColumn('modality', 'text')
    .addColumn('provenance', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('derived_files_scan_kind_uq', ['scan_id', 'kind'])
    .execute();

  await db.schema
    .createTable('scan_events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('scan_id', 'text')
    .addColumn('dataset_id', 'text')
    .addColumn('crawl_id', 'text')
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('activity_id', 'text', (c) => c.notNull())
    .addColumn('task_queue', 'text', (c) => c.notNull())
    .addColumn('worker_identity', 'text', (c) => c.notNull())
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('finished_at', 'timestamptz')
    .addColumn('duration_ms', 'integer')
    .addColumn('input_hash', 'text')
    .addColumn('output_hash', 'text')
    .addColumn('error_type', 'text')
    .addColumn('error_message', 'text')
    .addColumn('details', 'jsonb')
    .execute();
  await db.schema.createIndex('scan_events_scan_idx').on('scan_events').columns(['scan_id', 'id']).execute();
  await db.schema.createIndex('scan_events_dataset_idx').on('scan_events').columns(['dataset_id', 'status']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['scan_events', 'derived_files', 'step_outputs', 'scans', 'sessions', 'subjects', 'datasets', 'crawls']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
