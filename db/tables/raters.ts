import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** A person who rates image quality. Only a hash of the sign-in token is kept (null: loopback-only rater). */
export interface RatersTable {
  id: Generated<number>;
  name: string;
  token_hash: string | null;
  /** May export every rater's ratings (`openmind raters add --admin`); needs a token. */
  is_admin: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}
export type Rater = Selectable<RatersTable>;
export type NewRater = Insertable<RatersTable>;
