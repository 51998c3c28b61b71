// The built-in `mock` type: Concourse's concourse/mock-resource, the type its acceptance suite is
// written against. check echoes versions, get writes files, put "pushes" a version; nothing leaves
// the agent. Like the original it decodes its request strictly: an unknown key in source or params
// (or a value of the wrong type) fails the step with "invalid payload".

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type BuiltinContext, ResourceFailure, sleep } from './builtin.js';
import { describe, isPlainObject, parseGoDuration } from './protocol.js';

const DEFAULT_INITIAL_VERSION = 'mock';

type FieldType = 'string' | 'bool' | 'files' | 'metadata' | 'version';

const SOURCE_FIELDS = {
  mirror_self: 'bool',
  initial_version: 'string',
  no_initial_version: 'bool',
  force_version: 'string',
  create_files: 'files',
  check_delay: 'string',
  check_failure: 'string',
  metadata: 'metadata',
  log: 'string',
} as const satisfies Record<string, FieldType>;

const GET_PARAMS = {
  mirror_self_via_params: 'bool',
  create_files_via_params: 'files',
} as const satisfies Record<string, FieldType>;

const PUT_PARAMS = { version: 'string', file: 'string', print_env: 'bool' } as const satisfies Record<
  string,
  FieldType
>;

const VERSION_FIELDS = { version: 'string', privileged: 'string' } as const satisfies Record<
  string,
  FieldType
>;

interface Version {
  version: string;
  privileged?: string;
}
interface Metadata {
  name?: string;
  value?: string;
}

type Decoded<F extends Record<string, FieldType>> = {
  [K in keyof F]?: F[K] extends 'string'
    ? string
    : F[K] extends 'bool'
      ? boolean
      : F[K] extends 'files'
        ? Record<string, unknown>
        : F[K] extends 'metadata'
          ? Metadata[]
          : never;
};

type Source = Decoded<typeof SOURCE_FIELDS>;

export async function mock(ctx: BuiltinContext): Promise<unknown> {
  const request = decodeRequest(ctx);
  const source = request.source;
  if (source.log) ctx.log(source.log);
  switch (ctx.kind) {
    case 'check':
      return check(ctx, source, request.version);
    case 'get':
      return get(ctx, source, decode(request.params, 'params', GET_PARAMS), request.version);
    case 'put':
      return put(ctx, source, decode(request.params, 'params', PUT_PARAMS));
  }
}

async function check(ctx: BuiltinContext, source: Source, from: Version | undefined): Promise<Version[]> {
  if (source.check_delay) {
    const ms = parseGoDuration(source.check_delay);
    if (ms === undefined)
      throw new ResourceFailure(`malformed check_delay duration (${source.check_delay}): not a Go duration`);
    await sleep(Math.max(0, ms), ctx.signal);
  }
  if (source.check_failure)
    throw new ResourceFailure(`intentionally failing to check: ${source.check_failure}`);
  const versions: Version[] = [];
  if (source.force_version) versions.push({ version: source.force_version });
  else if (from) versions.push({ ...from });
  else if (!source.no_initial_version) versions.push({ version: initialVersion(source, ctx.env) });
  if (ctx.privileged) for (const v of versions) v.privileged = 'true';
  return versions;
}

function initialVersion(source: Source, env: BuiltinContext['env']): string {
  return source.initial_version || env.MIRRORED_VERSION || DEFAULT_INITIAL_VERSION;
}

async function get(
  ctx: BuiltinContext,
  source: Source,
  params: Decoded<typeof GET_PARAMS>,
  version: Version | undefined,
): Promise<unknown> {
  const dest = ctx.dir;
  const v = version ?? { version: '' };
  if (ctx.privileged) ctx.log('fetching in a privileged container');
  await writeFile(path.join(dest, 'privileged'), `${JSON.stringify(ctx.privileged)}\n`);
  ctx.log(`fetching version: ${v.version}`);
  await writeFile(path.join(dest, 'version'), `${v.version}\n`);
  if (source.mirror_self || params.mirror_self_via_params) {
    ctx.log('mirroring self image');
    // The agent has no image of its own to copy: the rootfs is empty, the metadata is the original's.
    await mkdir(path.join(dest, 'rootfs'), { recursive: true });
    const metadata = { env: [`MIRRORED_VERSION=${v.version}`], user: 'root' };
    await writeFile(path.join(dest, 'metadata.json'), `${JSON.stringify(metadata)}\n`);
  }
  const files = { ...source.create_files, ...params.create_files_via_params };
  for (const [name, content] of Object.entries(files)) {
    const text = typeof content === 'string' ? content : JSON.stringify(content);
    const file = inside(dest, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text.replaceAll('START_VAR', '((').replaceAll('END_VAR', '))'));
  }
  return { version: v, metadata: metadataOf(source) };
}

async function put(
  ctx: BuiltinContext,
  source: Source,
  params: Decoded<typeof PUT_PARAMS>,
): Promise<unknown> {
  // Without either, Concourse's mock pushes the empty version (a Go string's zero value).
  let pushed = params.version ?? '';
  if (!params.version && params.file) {
    const file = inside(ctx.dir, params.file);
    try {
      pushed = (await readFile(file, 'utf8')).trim();
    } catch (err) {
      throw new ResourceFailure(
        `failed to read version file ${JSON.stringify(params.file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  }
  if (params.print_env) {
    for (const [name, value] of Object.entries(ctx.env).sort(([a], [b]) => a.localeCompare(b)))
      ctx.log(`${name}=${value}`);
  }
  const version: Version = { version: pushed };
  if (ctx.privileged) {
    ctx.log('pushing in a privileged container');
    version.privileged = 'true';
  }
  ctx.log(`pushing version: ${pushed}`);
  return { version, metadata: metadataOf(source) };
}

/** The source's metadata; a missing name or value is "" (as Go decodes it). */
function metadataOf(source: Source): Metadata[] {
  return (source.metadata ?? []).map((m) => ({ name: m.name ?? '', value: m.value ?? '' }));
}

/** `rel` inside `root`; a path that leaves it fails the step. */
function inside(root: string, rel: string): string {
  const abs = path.resolve(root, rel);
  const fromRoot = path.relative(root, abs);
  if (path.isAbsolute(rel) || fromRoot === '' || fromRoot.startsWith('..') || path.isAbsolute(fromRoot))
    throw new ResourceFailure(`path ${JSON.stringify(rel)} must name a file inside ${root}`);
  return abs;
}

// --- strict decoding, like Go's json.Decoder with DisallowUnknownFields ---

function decodeRequest(ctx: BuiltinContext): {
  source: Source;
  params: unknown;
  version: Version | undefined;
} {
  let raw: unknown;
  try {
    raw = JSON.parse(ctx.requestJson);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  const allowed =
    ctx.kind === 'check'
      ? ['source', 'version']
      : ctx.kind === 'get'
        ? ['source', 'params', 'version']
        : ['source', 'params'];
  if (!isPlainObject(raw)) throw invalid(`the request must be an object, not ${describe(raw)}`);
  for (const key of Object.keys(raw)) if (!allowed.includes(key)) throw invalid(`unknown field "${key}"`);
  const source = decode(raw.source, 'source', SOURCE_FIELDS);
  const version =
    raw.version === null || raw.version === undefined
      ? undefined
      : decode(raw.version, 'version', VERSION_FIELDS);
  // A version without its key decodes as "" in Go.
  return { source, params: raw.params, version: version && { ...version, version: version.version ?? '' } };
}

function decode<F extends Record<string, FieldType>>(value: unknown, where: string, fields: F): Decoded<F> {
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) throw invalid(`${where} must be an object, not ${describe(value)}`);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const type = fields[key];
    if (!type) throw invalid(`unknown field "${key}" in ${where}`);
    if (v === null) continue;
    const problem = typeProblem(type, v);
    if (problem) throw invalid(`${where}.${key} ${problem}`);
    out[key] = v;
  }
  return out as Decoded<F>;
}

function typeProblem(type: FieldType, v: unknown): string | undefined {
  switch (type) {
    case 'string':
      return typeof v === 'string' ? undefined : `must be a string, not ${describe(v)}`;
    case 'bool':
      return typeof v === 'boolean' ? undefined : `must be true or false, not ${describe(v)}`;
    case 'files':
      return isPlainObject(v) ? undefined : `must be a map of file names to contents, not ${describe(v)}`;
    case 'version':
      return isPlainObject(v) ? undefined : `must be an object, not ${describe(v)}`;
    case 'metadata': {
      if (!Array.isArray(v)) return `must be a list of {name, value}, not ${describe(v)}`;
      for (const [i, field] of v.entries()) {
        if (!isPlainObject(field)) return `entry ${i + 1} must be {name, value}, not ${describe(field)}`;
        for (const [k, fv] of Object.entries(field)) {
          if (k !== 'name' && k !== 'value') return `entry ${i + 1}: unknown field "${k}"`;
          if (typeof fv !== 'string') return `entry ${i + 1}: ${k} must be a string, not ${describe(fv)}`;
        }
      }
      return undefined;
    }
  }
}

function invalid(message: string): ResourceFailure {
  return new ResourceFailure(`invalid payload: ${message}`);
}
