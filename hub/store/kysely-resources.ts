// ResourceStore on Kysely: version histories, check state, what builds fetched and produced, and the
// resource cache. Versions are stored as canonical JSON (sorted keys) so equal versions compare equal.

import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import { canonicalJson } from './canonical-json.js';
import { bool } from './rows.js';
import type { Database, ResourceStatesTable, ResourceVersionsTable } from './schema.js';
import type {
  BuildResource,
  MetadataField,
  ResourceCacheEntry,
  ResourceScope,
  ResourceState,
  ResourceStore,
  ResourceVersion,
  Version,
  VersionKey,
} from './store.js';

function toVersion(row: Selectable<ResourceVersionsTable>): ResourceVersion {
  return {
    id: row.id,
    pipelineId: row.pipeline_id,
    scope: row.scope as ResourceScope,
    name: row.name,
    configHash: row.config_hash,
    version: JSON.parse(row.version) as Version,
    metadata: JSON.parse(row.metadata) as MetadataField[],
    checkOrder: row.check_order,
    disabled: row.disabled !== 0,
    createdAt: Number(row.created_at),
  };
}

function toState(row: Selectable<ResourceStatesTable>): ResourceState {
  return {
    pipelineId: row.pipeline_id,
    scope: row.scope as ResourceScope,
    name: row.name,
    configHash: row.config_hash,
    checkStatus: row.check_status as ResourceState['checkStatus'],
    checkError: row.check_error,
    lastCheckStartedAt: row.last_check_started_at === null ? null : Number(row.last_check_started_at),
    lastCheckEndedAt: row.last_check_ended_at === null ? null : Number(row.last_check_ended_at),
    pinnedVersion: row.pinned_version === null ? null : (JSON.parse(row.pinned_version) as Version),
    pinComment: row.pin_comment,
  };
}

export class KyselyResourceStore implements ResourceStore {
  constructor(private readonly db: Kysely<Database>) {}

  private history(key: VersionKey) {
    return this.db
      .selectFrom('resource_versions')
      .selectAll()
      .where('pipeline_id', '=', key.pipelineId)
      .where('scope', '=', key.scope)
      .where('name', '=', key.name)
      .where('config_hash', '=', key.configHash);
  }

  async saveVersions(
    key: VersionKey,
    versions: { version: Version; metadata: MetadataField[] }[],
    at: number,
  ): Promise<ResourceVersion[]> {
    return this.db.transaction().execute(async (trx) => {
      const top = await trx
        .selectFrom('resource_versions')
        .select((eb) => eb.fn.max('check_order').as('top'))
        .where('pipeline_id', '=', key.pipelineId)
        .where('scope', '=', key.scope)
        .where('name', '=', key.name)
        .where('config_hash', '=', key.configHash)
        .executeTakeFirst();
      let order = top?.top ?? 0;
      const out: ResourceVersion[] = [];
      for (const v of versions) {
        const version = canonicalJson(v.version);
        const row =
          (await trx
            .selectFrom('resource_versions')
            .selectAll()
            .where('pipeline_id', '=', key.pipelineId)
            .where('scope', '=', key.scope)
            .where('name', '=', key.name)
            .where('config_hash', '=', key.configHash)
            .where('version', '=', version)
            .executeTakeFirst()) ??
          (await trx
            .insertInto('resource_versions')
            .values({
              pipeline_id: key.pipelineId,
              scope: key.scope,
              name: key.name,
              config_hash: key.configHash,
              version,
              metadata: JSON.stringify(v.metadata),
              check_order: ++order,
              created_at: at,
            })
            .returningAll()
            .executeTakeFirstOrThrow());
        out.push(toVersion(row));
      }
      return out;
    });
  }

  async listVersions(
    key: VersionKey,
    opts: { includeDisabled?: boolean; limit?: number } = {},
  ): Promise<ResourceVersion[]> {
    let q = this.history(key);
    if (!opts.includeDisabled) q = q.where('disabled', '=', 0);
    if (opts.limit !== undefined) q = q.limit(opts.limit);
    const rows = await q.orderBy('check_order', 'desc').execute();
    return rows.map(toVersion);
  }

  async getVersion(id: number): Promise<ResourceVersion | undefined> {
    const row = await this.db
      .selectFrom('resource_versions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toVersion(row);
  }

  async findVersion(key: VersionKey, version: Version): Promise<ResourceVersion | undefined> {
    const row = await this.history(key).where('version', '=', canonicalJson(version)).executeTakeFirst();
    return row && toVersion(row);
  }

  async setVersionDisabled(id: number, disabled: boolean): Promise<boolean> {
    const result = await this.db
      .updateTable('resource_versions')
      .set({ disabled: bool(disabled) })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async getState(pipelineId: number, scope: ResourceScope, name: string): Promise<ResourceState | undefined> {
    const row = await this.db
      .selectFrom('resource_states')
      .selectAll()
      .where('pipeline_id', '=', pipelineId)
      .where('scope', '=', scope)
      .where('name', '=', name)
      .executeTakeFirst();
    return row && toState(row);
  }

  async listStates(pipelineId: number): Promise<ResourceState[]> {
    const rows = await this.db
      .selectFrom('resource_states')
      .selectAll()
      .where('pipeline_id', '=', pipelineId)
      .orderBy('name')
      .execute();
    return rows.map(toState);
  }

  async updateState(key: VersionKey, patch: Parameters<ResourceStore['updateState']>[1]): Promise<void> {
    const set = {
      ...(patch.checkStatus !== undefined ? { check_status: patch.checkStatus } : {}),
      ...(patch.checkError !== undefined ? { check_error: patch.checkError } : {}),
      ...(patch.lastCheckStartedAt !== undefined ? { last_check_started_at: patch.lastCheckStartedAt } : {}),
      ...(patch.lastCheckEndedAt !== undefined ? { last_check_ended_at: patch.lastCheckEndedAt } : {}),
      ...(patch.pinnedVersion !== undefined
        ? { pinned_version: patch.pinnedVersion === null ? null : canonicalJson(patch.pinnedVersion) }
        : {}),
      ...(patch.pinComment !== undefined ? { pin_comment: patch.pinComment } : {}),
    };
    await this.db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom('resource_states')
        .select('config_hash')
        .where('pipeline_id', '=', key.pipelineId)
        .where('scope', '=', key.scope)
        .where('name', '=', key.name)
        .executeTakeFirst();
      if (!current) {
        await trx
          .insertInto('resource_states')
          .values({
            pipeline_id: key.pipelineId,
            scope: key.scope,
            name: key.name,
            config_hash: key.configHash,
            ...set,
          })
          .execute();
        return;
      }
      // A new source starts a new history: the old check result says nothing about it.
      const reset =
        current.config_hash === key.configHash
          ? {}
          : { check_status: null, check_error: null, last_check_started_at: null, last_check_ended_at: null };
      await trx
        .updateTable('resource_states')
        .set({ config_hash: key.configHash, ...reset, ...set })
        .where('pipeline_id', '=', key.pipelineId)
        .where('scope', '=', key.scope)
        .where('name', '=', key.name)
        .execute();
    });
  }

  async addBuildResources(buildId: number, rows: BuildResource[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db
      .insertInto('build_resources')
      .values(
        rows.map((r) => ({
          build_id: buildId,
          direction: r.direction,
          name: r.name,
          resource: r.resource,
          version_id: r.versionId,
        })),
      )
      .onConflict((oc) =>
        oc
          .columns(['build_id', 'direction', 'name'])
          .doUpdateSet((eb) => ({ version_id: eb.ref('excluded.version_id') })),
      )
      .execute();
  }

  async listBuildResources(buildId: number): Promise<(BuildResource & { version: ResourceVersion })[]> {
    const rows = await this.db
      .selectFrom('build_resources')
      .innerJoin('resource_versions', 'resource_versions.id', 'build_resources.version_id')
      .selectAll('resource_versions')
      .select(['build_resources.direction', 'build_resources.name as used_as', 'build_resources.resource'])
      .where('build_resources.build_id', '=', buildId)
      .orderBy('build_resources.direction')
      .orderBy('build_resources.name')
      .execute();
    return rows.map((row) => ({
      direction: row.direction as BuildResource['direction'],
      name: row.used_as,
      resource: row.resource,
      versionId: row.id,
      version: toVersion(row),
    }));
  }

  async passedVersions(jobId: number, resource: string): Promise<{ version: Version; buildId: number }[]> {
    const rows = await this.db
      .selectFrom('build_resources')
      .innerJoin('builds', 'builds.id', 'build_resources.build_id')
      .innerJoin('resource_versions', 'resource_versions.id', 'build_resources.version_id')
      .select(['resource_versions.version', 'build_resources.build_id'])
      .where('builds.job_id', '=', jobId)
      .where('builds.status', '=', 'succeeded')
      .where('build_resources.resource', '=', resource)
      .execute();
    return rows.map((r) => ({ version: JSON.parse(r.version) as Version, buildId: r.build_id }));
  }

  async usedVersions(jobId: number, name: string): Promise<Version[]> {
    const rows = await this.db
      .selectFrom('build_resources')
      .innerJoin('builds', 'builds.id', 'build_resources.build_id')
      .innerJoin('resource_versions', 'resource_versions.id', 'build_resources.version_id')
      .select('resource_versions.version')
      .distinct()
      .where('builds.job_id', '=', jobId)
      .where('build_resources.direction', '=', 'input')
      .where('build_resources.name', '=', name)
      .execute();
    return rows.map((r) => JSON.parse(r.version) as Version);
  }

  async getCache(key: string): Promise<ResourceCacheEntry | undefined> {
    const row = await this.db
      .selectFrom('resource_caches')
      .selectAll()
      .where('key', '=', key)
      .executeTakeFirst();
    return (
      row && {
        key: row.key,
        digest: row.digest,
        size: Number(row.size),
        version: JSON.parse(row.version) as Version,
        metadata: JSON.parse(row.metadata) as MetadataField[],
        createdAt: Number(row.created_at),
      }
    );
  }

  async putCache(entry: ResourceCacheEntry): Promise<void> {
    await this.db
      .insertInto('resource_caches')
      .values({
        key: entry.key,
        config_hash: entry.configHash ?? null,
        digest: entry.digest,
        size: entry.size,
        version: canonicalJson(entry.version),
        metadata: JSON.stringify(entry.metadata),
        created_at: entry.createdAt,
      })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet((eb) => ({
          digest: eb.ref('excluded.digest'),
          size: eb.ref('excluded.size'),
          created_at: eb.ref('excluded.created_at'),
        })),
      )
      .execute();
  }

  async clearCaches(
    pipelineId: number,
    scope: ResourceScope,
    name: string,
    version?: Version,
  ): Promise<number> {
    let q = this.db
      .deleteFrom('resource_caches')
      .where('config_hash', 'in', (eb) =>
        eb
          .selectFrom('resource_versions')
          .select('config_hash')
          .where('pipeline_id', '=', pipelineId)
          .where('scope', '=', scope)
          .where('name', '=', name),
      );
    if (version !== undefined) q = q.where('version', '=', canonicalJson(version));
    return Number((await q.executeTakeFirst()).numDeletedRows);
  }

  async renameResource(pipelineId: number, oldName: string, newName: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const hasVersions = (name: string) =>
        trx
          .selectFrom('resource_versions')
          .select('id')
          .where('pipeline_id', '=', pipelineId)
          .where('scope', '=', 'resource')
          .where('name', '=', name)
          .executeTakeFirst();
      // Already renamed, or the new name has a history of its own: keep it.
      if ((await hasVersions(newName)) || !(await hasVersions(oldName))) return false;
      // A check of the new name may have begun since the config was saved: the old state wins.
      await trx
        .deleteFrom('resource_states')
        .where('pipeline_id', '=', pipelineId)
        .where('scope', '=', 'resource')
        .where('name', '=', newName)
        .execute();
      for (const table of ['resource_versions', 'resource_states'] as const) {
        await trx
          .updateTable(table)
          .set({ name: newName })
          .where('pipeline_id', '=', pipelineId)
          .where('scope', '=', 'resource')
          .where('name', '=', oldName)
          .execute();
      }
      // What the pipeline's builds fetched and produced is the renamed resource's (passed, used).
      const builds = (eb: ExpressionBuilder<Database, 'build_resources'>) =>
        eb.selectFrom('builds').select('builds.id').where('builds.pipeline_id', '=', pipelineId);
      await trx
        .updateTable('build_resources')
        .set((eb) => ({
          name: eb.case().when('name', '=', oldName).then(newName).else(eb.ref('name')).end(),
          resource: newName,
        }))
        .where('resource', '=', oldName)
        .where('build_id', 'in', builds)
        .execute();
      return true;
    });
  }

  async clearVersions(pipelineId: number, scope: ResourceScope, name: string): Promise<number> {
    const res = await this.db
      .deleteFrom('resource_versions')
      .where('pipeline_id', '=', pipelineId)
      .where('scope', '=', scope)
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
