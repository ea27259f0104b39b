import type { Kysely } from 'kysely';

// Rating-tool admins: a rater whose token may export every rater's ratings (`openmind raters add --admin NAME`).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('raters')
    .addColumn('is_admin', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('raters').dropColumn('is_admin').execute();
}
