import type { ColumnType } from 'kysely';
/** JSON stored in a jsonb column: objects are written as JSON text, read back parsed. */
export type Json = ColumnType<any, string, string>;
