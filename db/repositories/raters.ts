// Queries on `raters`: people who rate image quality (only a hash of each sign-in token is kept).
import type { DB } from '../database.js';
import type { Rater } from '../tables/raters.js';

export async function raterNamed(db: DB, name: string): Promise<Rater | undefined> {
  return db.selectFrom('raters').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function raterById(db: DB, id: number): Promise<Rater | null> {
  return (await db.selectFrom('raters').selectAll().where('id', '=', id).executeTakeFirst()) ?? null;
}

export async function raterWithTokenHash(db: DB, tokenHash: string): Promise<Rater | null> {
  return (await db.selectFrom('raters').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst()) ?? null;
}

/** A new rater (token hash null: loopback only); returns its id. */
export async function insertRater(db: DB, name: string, tokenHash: string | null, opts: { admin?: boolean } = {}): Promise<number> {
  return Number((await db.insertInto('raters').values({ name, token_hash: tokenHash, is_admin: !!opts.admin }).returning('id').executeTakeFirstOrThrow()).id);
}

/** A new token hash (sessions opened with the old token end: they check the hash they were opened with). `admin: true` also grants admin. */
export async function setRaterTokenHash(db: DB, raterId: number, tokenHash: string, opts: { admin?: boolean } = {}): Promise<void> {
  await db
    .updateTable('raters')
    .set({ token_hash: tokenHash, ...(opts.admin ? { is_admin: true } : {}) })
    .where('id', '=', raterId)
    .execute();
}

/** The rater of that name, created without a token when missing. */
export async function ensureRaterNamed(db: DB, name: string): Promise<Rater> {
  await db.insertInto('raters').values({ name, token_hash: null }).onConflict((oc) => oc.column('name').doNothing()).execute();
  return db.selectFrom('raters').selectAll().where('name', '=', name).executeTakeFirstOrThrow();
}

export async function listRaters(db: DB): Promise<{ id: number; name: string; hasToken: boolean; isAdmin: boolean }[]> {
  const rows = await db.selectFrom('raters').select(['id', 'name', 'token_hash', 'is_admin']).orderBy('name').execute();
  return rows.map((r) => ({ id: r.id, name: r.name, hasToken: !!r.token_hash, isAdmin: !!r.is_admin }));
}
