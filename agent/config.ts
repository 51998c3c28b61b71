// The agent's YAML config file: parsed with positions kept, so every problem is reported at once as
// `file:line:col: path.to.key: problem`, then defaulted, resolved and frozen.
//
// `${ENV_VAR}` references are NOT expanded: values are taken literally (keeps the format simple and
// predictable; secrets live in files such as token_file, not in the config).
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../common/duration.js';
import {
  LINUX_DEFAULT_IMAGE,
  LINUX_HELPER_IMAGE,
  WINDOWS_DEFAULT_IMAGE,
  WINDOWS_HELPER_IMAGE,
  WINDOWS_TOLERATION,
  type KubernetesPoolSettings,
} from './executors/kubernetes/settings.js';
import { BUILTIN_TYPES, type BuiltinType } from './resources/builtin-types.js';

export type PoolPlatform = 'linux' | 'windows' | 'darwin';
export type PoolExecutor = 'process' | 'kubernetes';

export interface PoolConfig {
  readonly name: string;
  readonly platform: PoolPlatform;
  readonly tags: readonly string[];
  readonly executor: PoolExecutor;
  readonly capacity: number;
  /** The resource types this pool runs inside the agent (default: all of BUILTIN_TYPES). */
  readonly builtinTypes: readonly BuiltinType[];
  /**
   * How long a failed step's directory and environment are kept after it ended, so `outpost intercept`
   * can still open a shell in it (process pools); 0: removed at once.
   */
  readonly keepFailedStepsMs: number;
  /**
   * Process pools: a task's registry-image image_resource is fetched as a rootfs and the task runs
   * chrooted into it (`task_images: chroot`; Linux and root). False: the image is not applied.
   */
  readonly taskImages: boolean;
  /** Set exactly when executor is kubernetes. */
  readonly kubernetes?: KubernetesPoolSettings;
  /** A process pool's `run_as`: the user (name, uid or uid:gid) its steps run as. */
  readonly runAs?: string;
}

/** keep_failed_steps_for's default: long enough to notice a failure and intercept it. */
export const DEFAULT_KEEP_FAILED_STEPS_MS = 5 * 60_000;

/** A non-negative Go-style duration in ms; undefined when absent ('') or not one. */
function durationMs(text: string): number | undefined {
  if (text === '') return undefined;
  const parsed = parseDuration(text);
  return parsed.ok && parsed.ms >= 0 ? parsed.ms : undefined;
}

export interface AgentConfig {
  readonly hub: {
    /** host:port */
    readonly address: string;
    readonly tls: {
      /** Absolute path of a CA bundle to trust instead of the system roots. */
      readonly caFile: string | undefined;
      /** Absolute paths of the client certificate and its key the agent presents (mTLS); both or neither. */
      readonly certFile: string | undefined;
      readonly keyFile: string | undefined;
      readonly serverName: string | undefined;
      readonly insecurePlaintext: boolean;
    };
  };
  /** Absolute. */
  readonly tokenFile: string;
  readonly name: string;
  readonly cluster: string;
  /** Absolute. */
  readonly workDir: string;
  /** undefined: no metrics endpoint. */
  readonly metrics: { readonly listen: string } | undefined;
  readonly drainTimeoutSeconds: number;
  /** Size bound of the artifact cache (`cache_max_mb`, default 10 GiB). */
  readonly cacheMaxBytes: number;
  /** Size bound of the kept task caches (`task_cache_max_mb`, default 10 GiB). */
  readonly taskCacheMaxBytes: number;
  /**
   * The in-cluster endpoint Kubernetes step pods fetch inputs from and push outputs and caches to
   * (`data_endpoint`); undefined: none, every pool moves them through the API server.
   */
  readonly dataEndpoint: { readonly listen: string; readonly advertise: string | undefined } | undefined;
  readonly pools: readonly PoolConfig[];
}

export interface ParseAgentConfigOptions {
  /** The config file's path: named in errors; relative paths in the config resolve against its dir. */
  file: string;
  /** Accepted for a future `${VAR}` expansion; not read today. */
  env: Record<string, string | undefined>;
  hostname: string;
  cpus: number;
  platform: NodeJS.Platform;
  tmpdir: string;
}

export class AgentConfigError extends Error {
  override readonly name = 'AgentConfigError';
  readonly code = 'AGENT_CONFIG_INVALID';
  /** One entry per problem, `file:line:col: path: problem`. */
  readonly problems: readonly string[];

  constructor(problems: string[]) {
    super(`invalid agent config:\n${problems.join('\n')}`);
    this.problems = Object.freeze([...problems]);
  }
}

const PLATFORMS = ['linux', 'windows', 'darwin'] as const;
const EXECUTORS = ['process', 'kubernetes'] as const;
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_-]*$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function hostPort(minPort: number) {
  return z.string().refine(
    (s) => {
      const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(s);
      const port = Number(m?.[2]);
      return m !== null && port >= minPort && port <= 65535;
    },
    { error: 'must be host:port' },
  );
}

const nonEmpty = z.string().min(1);
const name = z.string().regex(NAME, { error: 'must be letters, digits, ".", "-" or "_"' });

// Kubernetes quantities as the API accepts them ("500m", "2", "1.5", "512Mi", "1G").
const quantity = z
  .union([z.string(), z.number()])
  .transform(String)
  .refine((q) => /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.test(q), {
    error: 'must be a Kubernetes quantity such as "500m", "2", "512Mi"',
  });
const resourceAmounts = z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() });
// Label keys/values as Kubernetes validates them (prefix/name, 63-char names).
const labelKey = z
  .string()
  .regex(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    {
      error: 'must be a Kubernetes label key',
    },
  );
const labelValue = z.string().regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, {
  error: 'must be a Kubernetes label value (63 characters: letters, digits, "-", "_", ".")',
});
const dnsName = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, {
  error: 'must be a lowercase DNS name',
});
const toleration = z.strictObject({
  key: z.string().optional(),
  operator: z.enum(['Equal', 'Exists']).optional(),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.int().optional(),
});
const mapping = z.record(z.string(), z.unknown());
const KubernetesBlock = z.strictObject({
  namespace: dnsName.optional(),
  kubeconfig: nonEmpty.optional(),
  context: nonEmpty.optional(),
  node_selector: z.record(labelKey, labelValue).optional(),
  arch: labelValue.optional(),
  windows_build: labelValue.optional(),
  tolerations: z.array(toleration).optional(),
  /** `false`: add no toleration for the Windows taint. */
  windows_toleration: z.union([toleration, z.literal(false)]).optional(),
  affinity: mapping.optional(),
  service_account: dnsName.optional(),
  runtime_class: dnsName.optional(),
  image_pull_secrets: z.array(dnsName).optional(),
  readable_secrets: z.array(dnsName).optional(),
  priority_class: dnsName.optional(),
  resources: z
    .strictObject({ defaults: resourceAmounts.optional(), ceilings: resourceAmounts.optional() })
    .optional(),
  pod_patch: mapping.optional(),
  allow_privileged: z.boolean().optional(),
  helper_image: nonEmpty.optional(),
  default_image: nonEmpty.optional(),
  helper_shell: z.enum(['posix', 'cmd']).optional(),
  workspace: nonEmpty.optional(),
  run_as_user: z.int().min(1, { error: 'must be a non-root uid (>= 1)' }).optional(),
  run_as_group: z.int().min(0).optional(),
  pending_timeout_seconds: z.int().min(1).optional(),
  image_pull_grace_seconds: z.int().min(0).optional(),
  registry: z
    .strictObject({
      repository: nonEmpty,
      insecure: z.boolean().optional(),
      username: nonEmpty.optional(),
      password_file: nonEmpty.optional(),
      pull_secret: dnsName.optional(),
    })
    .refine((r) => (r.username === undefined) === (r.password_file === undefined), {
      error: 'username and password_file go together',
    })
    .optional(),
  data_path: z.enum(['agent', 'api']).optional(),
});
type KubernetesBlock = z.infer<typeof KubernetesBlock>;

// The file's shape; defaults and cross-field rules are applied afterwards (they need host facts).
const RawConfig = z.strictObject({
  hub: z.strictObject({
    address: hostPort(1),
    tls: z
      .strictObject({
        ca_file: nonEmpty.optional(),
        cert_file: nonEmpty.optional(),
        key_file: nonEmpty.optional(),
        server_name: nonEmpty.optional(),
        insecure_plaintext: z.boolean().optional(),
      })
      .optional(),
  }),
  token_file: nonEmpty,
  name: name.optional(),
  cluster: name.optional(),
  work_dir: nonEmpty.optional(),
  metrics: z.strictObject({ listen: hostPort(0).optional() }).optional(),
  drain_timeout_seconds: z
    .int({ error: 'must be an integer >= 0' })
    .min(0, { error: 'must be an integer >= 0' })
    .optional(),
  cache_max_mb: z
    .int({ error: 'must be an integer >= 0' })
    .min(0, { error: 'must be an integer >= 0' })
    .optional(),
  task_cache_max_mb: z
    .int({ error: 'must be an integer >= 0' })
    .min(0, { error: 'must be an integer >= 0' })
    .optional(),
  data_endpoint: z
    .strictObject({
      listen: hostPort(0),
      // "{hostname}" stands for the agent's host name.
      advertise: z
        .string()
        .refine((u) => /^http:\/\//.test(u) && URL.canParse(u.replaceAll('{hostname}', 'agent')), {
          error: 'must be an http:// URL step pods can reach ({hostname}: the agent host name)',
        })
        .optional(),
    })
    .optional(),
  pools: z
    .array(
      z.strictObject({
        name: z.string().regex(IDENTIFIER, {
          error: 'must be identifier-like (a letter, then letters, digits, "-" or "_")',
        }),
        platform: z.enum(PLATFORMS).optional(),
        tags: z.array(nonEmpty).optional(),
        executor: z.enum(EXECUTORS).optional(),
        capacity: z
          .int({ error: 'must be an integer >= 1' })
          .min(1, { error: 'must be an integer >= 1' })
          .optional(),
        kubernetes: KubernetesBlock.optional(),
        run_as: z
          .string()
          .regex(/^([a-z_][a-z0-9_.-]*\$?|\d+(:\d+)?)$/i, {
            error: 'must be a user name, a uid or uid:gid',
          })
          .optional(),
        // A pool may run some built-in types from their image instead (a Kubernetes pool that
        // must not reach a registry itself): it lists the ones it runs inside the agent.
        builtin_types: z
          .array(z.enum(BUILTIN_TYPES))
          .min(1, { error: 'must list at least one type (leave it out for all)' })
          .optional(),
        // Process pools: run a task's registry-image image_resource chrooted into its rootfs.
        task_images: z.enum(['chroot', 'ignore']).optional(),
        // How long a failed step's directory and environment stay for `outpost intercept`.
        keep_failed_steps_for: z
          .string()
          .refine((v) => durationMs(v) !== undefined, {
            error: 'must be a duration such as "5m" or "0" (Go syntax: "1h30m", "90s")',
          })
          .optional(),
      }),
    )
    .min(1, { error: 'must list at least one pool' }),
});
type RawConfig = z.infer<typeof RawConfig>;

type Path = readonly (string | number)[];
interface Problem {
  path: Path;
  message: string;
  /** Point at the key itself rather than its value (unknown fields). */
  atKey?: boolean;
}

export function parseAgentConfig(text: string, opts: ParseAgentConfigOptions): AgentConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${opts.file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    throw new AgentConfigError(doc.errors.map((e) => `${at(e.pos[0])}: ${e.message}`));
  }

  const raw = dropNulls(doc.toJS({ maxAliasCount: 100 }));
  const problems: Problem[] = [];
  const parsed = RawConfig.safeParse(raw, { error: describeIssue });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const p = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys)
          problems.push({ path: [...p, key], message: `unknown field "${key}"`, atKey: true });
      } else {
        problems.push({ path: p, message: issue.message });
      }
    }
  }
  problems.push(...crossFieldProblems(raw, opts));

  if (problems.length > 0 || !parsed.success) {
    const located = problems.map((pr) => ({ offset: locate(doc, pr.path, pr.atKey ?? false), pr }));
    located.sort((a, b) => a.offset - b.offset);
    throw new AgentConfigError(
      located.map(({ offset, pr }) => `${at(offset)}: ${formatPath(pr.path)}: ${pr.message}`),
    );
  }
  return deepFreeze(applyDefaults(parsed.data, opts));
}

export async function loadAgentConfig(file: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new AgentConfigError([`${file}: cannot read: ${(err as Error).message}`]);
  }
  return parseAgentConfig(text, {
    file,
    env: process.env,
    hostname: os.hostname(),
    cpus: os.availableParallelism(),
    platform: process.platform,
    tmpdir: os.tmpdir(),
  });
}

function isPlatform(v: unknown): v is PoolPlatform {
  return (PLATFORMS as readonly unknown[]).includes(v);
}

function hostPlatform(platform: NodeJS.Platform): PoolPlatform | undefined {
  if (platform === 'win32') return 'windows';
  if (platform === 'linux' || platform === 'darwin') return platform;
  return undefined;
}

// Rules across fields, checked on the raw data so they are reported together with shape problems.
function crossFieldProblems(raw: unknown, opts: ParseAgentConfigOptions): Problem[] {
  const problems: Problem[] = [];
  const root = asRecord(raw);
  const tls = asRecord(asRecord(root?.hub)?.tls);
  const tlsFiles = ['ca_file', 'cert_file', 'key_file', 'server_name'] as const;
  if (tls?.insecure_plaintext === true && tlsFiles.some((k) => tls[k] !== undefined)) {
    problems.push({
      path: ['hub', 'tls', 'insecure_plaintext'],
      message: 'cannot be combined with ca_file, cert_file, key_file or server_name',
    });
  }
  // A client certificate is nothing without its key, and the other way round.
  for (const [has, lacks] of [
    ['cert_file', 'key_file'],
    ['key_file', 'cert_file'],
  ] as const) {
    if (tls?.[has] !== undefined && tls[lacks] === undefined)
      problems.push({
        path: ['hub', 'tls', has],
        message: `needs ${lacks} too (the client certificate's pair)`,
      });
  }
  if (root?.name === undefined && !NAME.test(opts.hostname)) {
    problems.push({
      path: [],
      message: `hostname ${JSON.stringify(opts.hostname)} is not a valid agent name; set "name"`,
    });
  }
  const pools = Array.isArray(root?.pools) ? (root.pools as unknown[]) : [];
  const host = hostPlatform(opts.platform);
  const seen = new Map<string, number>();
  pools.forEach((item, i) => {
    const pool = asRecord(item);
    if (!pool) return;
    if (typeof pool.name === 'string') {
      const first = seen.get(pool.name);
      if (first === undefined) seen.set(pool.name, i);
      else
        problems.push({ path: ['pools', i, 'name'], message: `duplicate pool name (also pools[${first}])` });
    }
    if (pool.platform === undefined && host === undefined) {
      problems.push({
        path: ['pools', i],
        message: `platform: required (host platform "${opts.platform}" has no default)`,
      });
    }
    const isProcess = pool.executor === undefined || pool.executor === 'process';
    if (isProcess && pool.kubernetes !== undefined) {
      problems.push({
        path: ['pools', i, 'kubernetes'],
        message: 'only pools with "executor: kubernetes" take a kubernetes block',
      });
    }
    if (!isProcess && pool.run_as !== undefined) {
      problems.push({
        path: ['pools', i, 'run_as'],
        message: 'only process pools take run_as (a kubernetes pool has kubernetes.run_as_user)',
      });
    }
    if (!isProcess && pool.task_images !== undefined) {
      problems.push({
        path: ['pools', i, 'task_images'],
        message: 'only process pools take task_images (a kubernetes pool runs the image itself)',
      });
    }
    if (pool.executor === 'kubernetes' && pool.platform === 'darwin') {
      problems.push({
        path: ['pools', i, 'platform'],
        message: 'a kubernetes pool runs linux or windows nodes',
      });
    }
    const k8s = asRecord(pool.kubernetes);
    if (k8s?.data_path === 'agent' && root?.data_endpoint === undefined) {
      problems.push({
        path: ['pools', i, 'kubernetes', 'data_path'],
        message: "agent needs the agent's data_endpoint (listen, advertise)",
      });
    }
    if (k8s?.data_path === 'agent' && pool.platform === 'windows') {
      problems.push({
        path: ['pools', i, 'kubernetes', 'data_path'],
        message: 'a windows pool moves its files through the API server (data_path: api)',
      });
    }
    if (k8s?.windows_build !== undefined && pool.platform !== 'windows') {
      problems.push({
        path: ['pools', i, 'kubernetes', 'windows_build'],
        message: 'only a windows pool has a windows build',
      });
    }
    if (isProcess && isPlatform(pool.platform) && pool.platform !== host) {
      problems.push({
        path: ['pools', i, 'platform'],
        message: `a process pool runs steps on this host, whose platform is ${host ?? opts.platform}`,
      });
    }
  });
  return problems;
}

function applyDefaults(raw: RawConfig, opts: ParseAgentConfigOptions): AgentConfig {
  const baseDir = path.dirname(path.resolve(opts.file));
  const resolve = (p: string) => path.resolve(baseDir, p);
  const agentName = raw.name ?? opts.hostname;
  const platform = hostPlatform(opts.platform);
  return {
    hub: {
      address: raw.hub.address,
      tls: {
        caFile: raw.hub.tls?.ca_file === undefined ? undefined : resolve(raw.hub.tls.ca_file),
        certFile: raw.hub.tls?.cert_file === undefined ? undefined : resolve(raw.hub.tls.cert_file),
        keyFile: raw.hub.tls?.key_file === undefined ? undefined : resolve(raw.hub.tls.key_file),
        serverName: raw.hub.tls?.server_name,
        insecurePlaintext: raw.hub.tls?.insecure_plaintext ?? false,
      },
    },
    tokenFile: resolve(raw.token_file),
    name: agentName,
    cluster: raw.cluster ?? 'default',
    workDir:
      raw.work_dir === undefined
        ? path.join(opts.tmpdir, `outpost-agent-${agentName}`)
        : resolve(raw.work_dir),
    metrics: raw.metrics?.listen === undefined ? undefined : { listen: raw.metrics.listen },
    drainTimeoutSeconds: raw.drain_timeout_seconds ?? 600,
    cacheMaxBytes: (raw.cache_max_mb ?? 10 * 1024) * 1024 * 1024,
    taskCacheMaxBytes: (raw.task_cache_max_mb ?? 10 * 1024) * 1024 * 1024,
    dataEndpoint: raw.data_endpoint && {
      listen: raw.data_endpoint.listen,
      // {hostname}: this agent's host name (a StatefulSet pod's own DNS name through its Service).
      advertise: raw.data_endpoint.advertise?.replaceAll('{hostname}', opts.hostname),
    },
    pools: raw.pools.map((p) => {
      // Checked in crossFieldProblems: a missing platform has a host default here.
      const poolPlatform = p.platform ?? platform ?? 'linux';
      const pool: PoolConfig = {
        name: p.name,
        platform: poolPlatform,
        tags: p.tags ?? [],
        executor: p.executor ?? 'process',
        capacity: p.capacity ?? Math.max(1, Math.floor(opts.cpus)),
        builtinTypes: [...new Set(p.builtin_types ?? BUILTIN_TYPES)],
        keepFailedStepsMs: durationMs(p.keep_failed_steps_for ?? '') ?? DEFAULT_KEEP_FAILED_STEPS_MS,
        taskImages: p.task_images === 'chroot',
      };
      if (pool.executor !== 'kubernetes') return p.run_as === undefined ? pool : { ...pool, runAs: p.run_as };
      const k8sPlatform = poolPlatform === 'windows' ? 'windows' : 'linux';
      const settings = kubernetesSettings(p.name, k8sPlatform, p.kubernetes ?? {}, resolve);
      // With a data endpoint, Linux pools use it unless they say otherwise.
      const dataPath =
        p.kubernetes?.data_path ?? (raw.data_endpoint && k8sPlatform === 'linux' ? 'agent' : 'api');
      return { ...pool, kubernetes: { ...settings, dataPath, keepFailedSteps: pool.keepFailedStepsMs > 0 } };
    }),
  };
}

function kubernetesSettings(
  pool: string,
  platform: 'linux' | 'windows',
  k: KubernetesBlock,
  resolve: (p: string) => string,
): KubernetesPoolSettings {
  const windows = platform === 'windows';
  return {
    pool,
    platform,
    namespace: k.namespace ?? 'default',
    kubeconfig: k.kubeconfig === undefined ? undefined : resolve(k.kubeconfig),
    context: k.context,
    nodeSelector: k.node_selector ?? {},
    arch: k.arch,
    windowsBuild: k.windows_build,
    tolerations: k.tolerations ?? [],
    windowsToleration:
      !windows || k.windows_toleration === false ? undefined : (k.windows_toleration ?? WINDOWS_TOLERATION),
    affinity: k.affinity,
    serviceAccount: k.service_account,
    runtimeClass: k.runtime_class,
    imagePullSecrets: k.image_pull_secrets ?? [],
    readableSecrets: k.readable_secrets ?? [],
    priorityClass: k.priority_class,
    resources: { defaults: k.resources?.defaults ?? {}, ceilings: k.resources?.ceilings ?? {} },
    podPatch: k.pod_patch,
    allowPrivileged: k.allow_privileged ?? false,
    helperImage: k.helper_image ?? (windows ? WINDOWS_HELPER_IMAGE : LINUX_HELPER_IMAGE),
    defaultImage: k.default_image ?? (windows ? WINDOWS_DEFAULT_IMAGE : LINUX_DEFAULT_IMAGE),
    helperShell: k.helper_shell ?? (windows ? 'cmd' : 'posix'),
    workspace: k.workspace ?? (windows ? 'C:\\workspace' : '/workspace'),
    runAsUser: k.run_as_user,
    runAsGroup: k.run_as_group,
    pendingTimeoutSeconds: k.pending_timeout_seconds ?? 300,
    imagePullGraceSeconds: k.image_pull_grace_seconds ?? 10,
    registry: k.registry && {
      repository: k.registry.repository,
      insecure: k.registry.insecure ?? false,
      username: k.registry.username,
      passwordFile: k.registry.password_file === undefined ? undefined : resolve(k.registry.password_file),
      pullSecret: k.registry.pull_secret,
    },
  };
}

// Zod's defaults read "Invalid input: expected string, received undefined"; these read like advice.
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      return `must be ${TYPE_NAMES[issue.expected] ?? issue.expected} (got ${describeValue(issue.input)})`;
    case 'invalid_value':
      return `must be one of: ${issue.values.map(String).join(', ')} (got ${describeValue(issue.input)})`;
    case 'invalid_key':
      return issue.issues[0]?.message;
    case 'too_small':
      if (issue.origin === 'string') return 'must not be empty';
      if (issue.origin === 'array') return `must have at least ${String(issue.minimum)} item(s)`;
      return `must be >= ${String(issue.minimum)}`;
    default:
      return undefined;
  }
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  int: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
};

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v;
}

/** The source offset for a problem: the value at `path`, or the nearest existing ancestor. */
function locate(doc: Document, p: Path, atKey: boolean): number {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const [i, seg] of p.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) break;
      const keyStart = rangeStart(pair.key);
      if (atKey && i === p.length - 1 && keyStart !== undefined) return keyStart;
      node = pair.value;
      // `key:` with no value: point at the key.
      offset = rangeStart(node) ?? keyStart ?? offset;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      offset = rangeStart(node) ?? offset;
    } else {
      break;
    }
    if (node === null || node === undefined) break;
  }
  return offset;
}

function rangeStart(node: unknown): number | undefined {
  if (node && typeof node === 'object' && 'range' in node && Array.isArray(node.range)) {
    const start: unknown = node.range[0];
    return typeof start === 'number' ? start : undefined;
  }
  return undefined;
}

function formatPath(p: Path): string {
  let out = '';
  for (const seg of p) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out === '' ? '(root)' : out;
}

// `key:` with nothing after it is YAML null; treat it as "not set" so defaults and "required" apply.
function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) if (val !== null) out[k] = dropNulls(val);
    return out;
  }
  return v;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}
