import type { Migration, MigrationProvider } from 'kysely';
import * as m20261128010000 from './2026_11_28_010000_initial.js';
import * as m20261128020000 from './2026_11_28_020000_quality.js';
import * as m20261128030000 from './2026_11_28_030000_derived_scans.js';
import * as m20261129010000 from './2026_11_29_010000_rater_admins.js';

/** Migrations in timestamp order; a static list so the bundle-free tsx runtime needs no directory scan. */
export const migrations: Record<string, Migration> = {
  '2026_11_28_010000_initial': m20261128010000,
  '2026_11_28_020000_quality': m20261128020000,
  '2026_11_28_030000_derived_scans': m20261128030000,
  '2026_11_29_010000_rater_admins': m20261129010000,
};

export const staticMigrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
