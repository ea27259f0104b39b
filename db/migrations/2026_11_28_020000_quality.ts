import { sql, type Kysely } from 'kysely';

// Quality: automatic metrics per scan, predicted scores, and the two-rater tool's raters,
// rating tasks and append-only rating versions.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('quality_metrics')
    .addColumn('scan_id', 'text', (c) => c.primaryKey())
    .addColumn('dataset_id', 'text', (c) => c.notNull())
    .addColumn('modality', 'text', (c) => c.notNull())
    .addColumn('metrics', 'jsonb', (c) => c.notNull())
    .addColumn('warnings', 'jsonb', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('quality_metrics_task_idx').on('quality_metrics').columns(['dataset_id', 'modality']).execute();

  await db.schema
    .createTable('predicted_scores')
    .addColumn('dataset_id', 'text', (c) => c.notNull())
    .addColumn('modality', 'text', (c) => c.notNull())
    .addColumn('score', 'real', (c) => c.notNull().check(sql`score >= 1 and score <= 5`))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('details', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('predicted_scores_pk', ['dataset_id', 'modality'])
    .execute();

  await db.schema
    .createTable('raters')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('token_hash', 'text', (c) => c.unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('rating_tasks')
    .addColumn('dataset_id', 'text', (c) => c.notNull())
    .addColumn('modality', 'text', (c) => c.notNull())
    .addColumn('montage_path', 'text', (c) => c.notNull())
    .addColumn('scans', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('rating_tasks_pk', ['dataset_id', 'modality'])
    .execute();

  await db.schema
    .createTable('ratings')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('submission_id', 'text', (c) => c.notNull())
    .addColumn('rater_id', 'integer', (c) => c.notNull().references('raters.id'))
    .addColumn('dataset_id', 'text', (c) => c.notNull())
    .addColumn('modality', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull().check(sql`version >= 1`))
    .addColumn('score', 'smallint', (c) => c.notNull().check(sql`score between 1 and 5`))
    .addColumn('artifacts', 'jsonb', (c) => c.notNull())
    .addColumn('comment', 'text', (c) => c.notNull())
    .addColumn('images_shown', 'jsonb', (c) => c.notNull())
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('ratings_submission_uq', ['submission_id'])
    .addUniqueConstraint('ratings_version_uq', ['rater_id', 'dataset_id', 'modality', 'version'])
    .addForeignKeyConstraint('ratings_task_fk', ['dataset_id', 'modality'], 'rating_tasks', ['dataset_id', 'modality'])
    .execute();
  await db.schema.createIndex('ratings_task_idx').on('ratings').columns(['dataset_id', 'modality', 'rater_id', 'version']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['ratings', 'rating_tasks', 'raters', 'predicted_scores', 'quality_metrics']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
