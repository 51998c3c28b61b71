// The Store on Kysely: the queries and transactions, written once for SQLite and PostgreSQL, one file
// per entity (kysely-<entity>.ts). This file only puts them together. The database connection, its
// pragmas and migrations are the opener's job (sqlite.ts, postgres.ts).

import type { Kysely } from 'kysely';
import { KyselyAgents } from './kysely-agents.js';
import { KyselyAuditLog } from './kysely-audit-log.js';
import { KyselyBuildEventStore } from './kysely-build-events.js';
import { KyselyBuildLog } from './kysely-build-log.js';
import { KyselyBuilds } from './kysely-builds.js';
import { KyselyContainerStore } from './kysely-containers.js';
import { KyselySigningKeys } from './kysely-signing-keys.js';
import { KyselyOidcLogins } from './kysely-oidc-logins.js';
import { KyselyOneOffStore } from './kysely-one-offs.js';
import { KyselyPipelineLifecycleStore } from './kysely-pipeline-lifecycle.js';
import { KyselyPipelines } from './kysely-pipelines.js';
import { KyselyReplicaDispatch } from './kysely-replica-dispatch.js';
import { KyselyRerunStore } from './kysely-reruns.js';
import { KyselyResourceStore } from './kysely-resources.js';
import { KyselyRetention } from './kysely-retention.js';
import { KyselyStepRuns } from './kysely-step-runs.js';
import { KyselyTaskCacheStore } from './kysely-task-caches.js';
import { KyselyTeamLookup, KyselyTeamStore } from './kysely-teams.js';
import { KyselyTokens } from './kysely-tokens.js';
import { KyselyUploadStore } from './kysely-uploads.js';
import { KyselyUserStore } from './kysely-users.js';
import type { CommitBatch } from './commit-batch.js';
import type { Database } from './schema.js';
import type { Store } from './store.js';

/** What the dialect needs from the queries. */
export interface KyselyStoreOptions {
  /**
   * Lock the rows a read-then-write transaction depends on (PostgreSQL, where writers run
   * concurrently). False on SQLite, whose single writer serialises transactions already.
   */
  rowLocks: boolean;
  /** SQLite: the connection's commit batch, which writes with `deferCommit` join (commit-batch.ts). */
  batch?: CommitBatch;
}

/** The Store over one Kysely instance; closing it closes the database. */
export function kyselyStore(db: Kysely<Database>, options: KyselyStoreOptions): Store {
  return {
    // Sub-stores, reached as store.<entity>.
    resources: new KyselyResourceStore(db),
    oneOffs: new KyselyOneOffStore(db),
    containers: new KyselyContainerStore(db),
    signingKeys: new KyselySigningKeys(db),
    teams: new KyselyTeamStore(db),
    users: new KyselyUserStore(db),
    oidcLogins: new KyselyOidcLogins(db),
    uploads: new KyselyUploadStore(db),
    buildEvents: new KyselyBuildEventStore(db),
    auditLog: new KyselyAuditLog(db),
    pipelineLifecycle: new KyselyPipelineLifecycleStore(db),
    reruns: new KyselyRerunStore(db),
    taskCaches: new KyselyTaskCacheStore(db),
    replicaDispatch: new KyselyReplicaDispatch(db, options.rowLocks),
    // The Store's own methods, each implemented by its entity's file.
    ...methodsOf(new KyselyTeamLookup(db)),
    ...methodsOf(new KyselyTokens(db)),
    ...methodsOf(new KyselyPipelines(db)),
    ...methodsOf(new KyselyBuilds(db, options.rowLocks, options.batch)),
    ...methodsOf(new KyselyStepRuns(db, options.rowLocks, options.batch)),
    ...methodsOf(new KyselyBuildLog(db, options.rowLocks, options.batch)),
    ...methodsOf(new KyselyAgents(db)),
    ...methodsOf(new KyselyRetention(db)),
    durable: () => options.batch?.durable() ?? Promise.resolve(),
    uncommitted: () => options.batch?.pending() ?? false,
    whenDurable: (then) => (options.batch ? options.batch.whenDurable(then) : then()),
    close: () => db.destroy(),
  };
}

/** An object's methods bound to it as own properties, so that they can be spread into the Store. */
function methodsOf<T extends object>(part: T): { [K in keyof T]: T[K] } {
  const methods: Record<string, unknown> = {};
  const proto = Object.getPrototypeOf(part) as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(proto)) {
    const value = proto[key];
    if (key !== 'constructor' && typeof value === 'function') methods[key] = value.bind(part);
  }
  return methods as { [K in keyof T]: T[K] };
}
