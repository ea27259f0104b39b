import type { Kysely } from 'kysely';

// Maps derived from a DWI series (T2w, ADC, FA) are scans of their own, pointing at their source.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('scans').addColumn('derived_from', 'text').execute();
  await db.schema.createIndex('scans_derived_from_idx').on('scans').column('derived_from').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('scans').dropColumn('derived_from').execute();
}
