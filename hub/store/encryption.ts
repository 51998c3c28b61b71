// Secrets at rest (docs/security.md): the columns that hold credentials — pipeline config sources (var
// sources, resource sources, webhook tokens, set-pipeline vars), compiled plans, resolved step specs and
// the secrets of OIDC logins in progress (PKCE verifier, nonce) —
// are encrypted with AES-256-GCM under the operator's key, as Concourse does with --encryption-key.
// A Kysely plugin does it at the edge of the store: inserts and updates of those columns are encrypted,
// and any value read back that carries the prefix is decrypted, so no query knows about it.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import {
  ColumnUpdateNode,
  InsertQueryNode,
  PrimitiveValueListNode,
  UpdateQueryNode,
  ValueListNode,
  ValueNode,
  ValuesNode,
  type Kysely,
  type KyselyPlugin,
  type OperationNode,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
} from 'kysely';
import type { Database } from './schema.js';

/** Columns that may hold a secret, by table. */
export const ENCRYPTED_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  pipeline_configs: ['source'],
  jobs: ['plan'],
  builds: ['plan'],
  step_runs: ['spec'],
  oidc_logins: ['code_verifier', 'nonce'],
  signing_keys: ['private_jwk'],
};

const PREFIX = 'enc:v1:';

export class EncryptionKeyError extends Error {
  override readonly name = 'EncryptionKeyError';
}

/** A key as Concourse takes it: 32 characters (AES-256). */
export function parseEncryptionKey(text: string, flag: string): Buffer {
  const key = Buffer.from(text, 'utf8');
  if (key.length !== 32)
    throw new EncryptionKeyError(`${flag} must be 32 bytes (AES-256); got ${key.length}`);
  return key;
}

export class FieldCipher {
  constructor(
    private readonly key: Buffer,
    /** A previous key, still read (rotation); everything is re-encrypted under `key` at start. */
    private readonly oldKey?: Buffer,
  ) {}

  private open(stored: string, key: Buffer): string | undefined {
    const [iv, tag, data] = stored
      .slice(PREFIX.length)
      .split(':')
      .map((p) => Buffer.from(p, 'base64'));
    if (!iv || !tag || !data) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
    } catch {
      return undefined; // another key, or tampered with (GCM authenticates)
    }
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return PREFIX + [iv, cipher.getAuthTag(), data].map((b) => b.toString('base64')).join(':');
  }

  /** Whether a stored value is encrypted under the current key (nothing to rewrite). */
  isCurrent(stored: string): boolean {
    return stored.startsWith(PREFIX) && this.open(stored, this.key) !== undefined;
  }

  /** The plaintext of a stored value; a value stored before encryption was on is returned as it is. */
  decrypt(stored: string): string {
    if (!stored.startsWith(PREFIX)) return stored;
    for (const key of [this.key, this.oldKey]) {
      const plain = key && this.open(stored, key);
      if (plain !== undefined) return plain;
    }
    throw new EncryptionKeyError(
      'a value in the database is encrypted under another key: start the hub with that key as ' +
        '--encryption-key (or as --old-encryption-key next to the new one)',
    );
  }
}

/** Whether a stored value is encrypted (then the hub cannot start without a key). */
export function isEncrypted(value: unknown): boolean {
  return typeof value === 'string' && value.startsWith(PREFIX);
}

export class EncryptionPlugin implements KyselyPlugin {
  constructor(private readonly cipher: FieldCipher) {}

  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    if (InsertQueryNode.is(node)) return this.insert(node);
    if (UpdateQueryNode.is(node)) return this.update(node);
    return node;
  }

  transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    for (const row of result.rows)
      for (const [column, value] of Object.entries(row))
        if (isEncrypted(value)) row[column] = this.cipher.decrypt(value as string);
    return Promise.resolve(result);
  }

  private insert(node: InsertQueryNode): InsertQueryNode {
    const columns = node.into ? ENCRYPTED_COLUMNS[tableName(node.into)] : undefined;
    if (!columns || !node.columns || !node.values || !ValuesNode.is(node.values)) return node;
    const targets = node.columns.map((c) => columns.includes(c.column.name));
    const values = ValuesNode.create(
      node.values.values.map((list) =>
        PrimitiveValueListNode.is(list)
          ? PrimitiveValueListNode.create(list.values.map((v, i) => (targets[i] ? this.seal(v) : v)))
          : ValueListNode.create(list.values.map((v, i) => (targets[i] ? this.sealNode(v) : v))),
      ),
    );
    const onConflict = node.onConflict?.updates
      ? { ...node.onConflict, updates: this.updates(columns, node.onConflict.updates) }
      : node.onConflict;
    return { ...node, values, onConflict };
  }

  private update(node: UpdateQueryNode): UpdateQueryNode {
    const columns = node.table ? ENCRYPTED_COLUMNS[tableName(node.table)] : undefined;
    if (!columns || !node.updates) return node;
    return { ...node, updates: this.updates(columns, node.updates) };
  }

  private updates(columns: readonly string[], updates: readonly ColumnUpdateNode[]): ColumnUpdateNode[] {
    return updates.map((u) =>
      columns.includes(columnName(u.column) ?? '')
        ? ColumnUpdateNode.create(u.column, this.sealNode(u.value))
        : u,
    );
  }

  private seal(value: unknown): unknown {
    return typeof value === 'string' && !isEncrypted(value) ? this.cipher.encrypt(value) : value;
  }

  private sealNode(node: OperationNode): OperationNode {
    return ValueNode.is(node) ? ValueNode.create(this.seal(node.value)) : node;
  }
}

function tableName(node: OperationNode): string {
  const table = node as { kind: string; table?: { identifier?: { name?: string } } };
  return table.kind === 'TableNode' ? (table.table?.identifier?.name ?? '') : '';
}

function columnName(node: OperationNode): string | undefined {
  const column = node as { kind: string; column?: { name?: string } };
  return column.kind === 'ColumnNode' ? column.column?.name : undefined;
}

/**
 * Encrypts under the current key every secret-bearing value that is not yet (stored in clear, or under
 * --old-encryption-key): run at start when a key is given, which completes a rotation. Rows are read
 * raw and written back through the plugin. Returns how many values it rewrote.
 */
export async function reencryptAll(db: Kysely<Database>, cipher: FieldCipher): Promise<number> {
  const stale = (value: string) => !cipher.isCurrent(value);
  let count = 0;
  await db.transaction().execute(async (tx) => {
    // Read raw on the transaction's own connection (SQLite has one: another would wait on it for ever).
    const raw = tx.withoutPlugins();
    const configs = await raw
      .selectFrom('pipeline_configs')
      .select(['pipeline_id', 'version', 'source'])
      .execute();
    for (const row of configs.filter((r) => stale(r.source))) {
      await tx
        .updateTable('pipeline_configs')
        .set({ source: cipher.decrypt(row.source) })
        .where('pipeline_id', '=', row.pipeline_id)
        .where('version', '=', row.version)
        .execute();
      count++;
    }
    for (const row of (await raw.selectFrom('jobs').select(['id', 'plan']).execute()).filter((r) =>
      stale(r.plan),
    )) {
      await tx
        .updateTable('jobs')
        .set({ plan: cipher.decrypt(row.plan) })
        .where('id', '=', row.id)
        .execute();
      count++;
    }
    for (const row of (await raw.selectFrom('builds').select(['id', 'plan']).execute()).filter((r) =>
      stale(r.plan),
    )) {
      await tx
        .updateTable('builds')
        .set({ plan: cipher.decrypt(row.plan) })
        .where('id', '=', row.id)
        .execute();
      count++;
    }
    const runs = await raw.selectFrom('step_runs').select(['id', 'spec']).execute();
    for (const row of runs.filter((r) => stale(r.spec))) {
      await tx
        .updateTable('step_runs')
        .set({ spec: cipher.decrypt(row.spec) })
        .where('id', '=', row.id)
        .execute();
      count++;
    }
  });
  return count;
}

/** The operator's key for secrets at rest, and a previous one during rotation. */
export interface StoreEncryption {
  key: Buffer;
  oldKey?: Buffer;
}

/**
 * The migrated database as the store uses it, on either dialect: with a key, behind the encryption
 * plugin after every value is brought under that key; without one, refused if it holds encrypted
 * values (they would read as garbage).
 */
export async function withEncryption(
  db: Kysely<Database>,
  encryption: StoreEncryption | undefined,
): Promise<Kysely<Database>> {
  if (!encryption) {
    await refuseEncryptedWithoutKey(db);
    return db;
  }
  const cipher = new FieldCipher(encryption.key, encryption.oldKey);
  const encrypted = db.withPlugin(new EncryptionPlugin(cipher));
  await reencryptAll(encrypted, cipher);
  return encrypted;
}

async function refuseEncryptedWithoutKey(db: Kysely<Database>): Promise<void> {
  const encrypted = await db
    .selectFrom('pipeline_configs')
    .select('pipeline_id')
    .where('source', 'like', 'enc:v1:%')
    .limit(1)
    .executeTakeFirst();
  if (encrypted)
    throw new EncryptionKeyError(
      'the database holds secrets encrypted with an --encryption-key; start the hub with that key',
    );
}
