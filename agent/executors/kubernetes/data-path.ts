// How inputs, outputs and caches move between the agent and a step pod, on either data path:
// - `api`: through the API server (the inputs tar on the inputs helper's stdin via pods/attach, each
//   upload as the stdout of a pods/exec in the outputs helper; streams.ts);
// - `agent`: over the pod network, from and to the agent's data endpoint (data-endpoint.ts), with the
//   step's token from its Secret: the inputs helper fetches with wget, the outputs helper pushes with
//   wget in pieces (busybox's wget holds a whole request body in memory).
// Either way the pod measures size and sha256 and the other end compares them, so a cut or corrupted
// transfer ends the step 'errored' with the reason instead of running it on partial files.
// Pure: the shell scripts the helpers run, their env, and what their exit codes mean.
// client-node's models are classes, but its API takes plain JSON objects (it serializes them).
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
import type { V1EnvVar, V1Secret } from '@kubernetes/client-node';
import type { TransferFailure } from './data-endpoint.js';
import type { KubernetesPoolSettings } from './settings.js';
import { parseWindowsArchiveReport, windowsStreamOutCommand } from './windows.js';

export type DataPath = 'agent' | 'api';

/** The Secret key that holds the step's data endpoint token. */
export const DATA_TOKEN_KEY = 'data-token';

/** What the inputs helper must receive: the pod checks both before it extracts anything. */
export interface InputsDigest {
  size: number;
  sha256: string;
}

/** How a step's pod reaches the agent on the `agent` data path. */
export interface AgentDataLink {
  /** The step's URL prefix on the data endpoint. */
  url: string;
  /** The step's Secret, which holds DATA_TOKEN_KEY. */
  secret: string;
}

/** What buildPod needs to wire the helpers; absent (the admission probe): the helpers take no env. */
export interface PodTransfer {
  inputs: InputsDigest;
  /** Absent: the `api` data path. */
  agent?: AgentDataLink;
}

/** Each failure reason in words, for the step's error. */
export const TRANSFER_WORDS: Record<TransferFailure, string> = {
  cut: 'the transfer was cut',
  digest: 'it arrived with a different sha256',
  'too-large': 'it is larger than the limit',
  refused: 'the transfer was refused',
};

/** A transfer that did not arrive whole, or was refused, with its typed reason. */
export class TransferError extends Error {
  override readonly name = 'TransferError';
  constructor(
    readonly reason: TransferFailure,
    /** What happened, in the words of whoever noticed. */
    readonly detail: string,
  ) {
    super(`${TRANSFER_WORDS[reason]} (${reason}): ${detail}`);
  }
}

// The inputs helper's exit codes, read back by reasons.ts.
const FETCH_FAILED = 10;
const SIZE_MISMATCH = 11;
const DIGEST_MISMATCH = 12;

/** Why the inputs helper exited as it did, when it is one of the transfer checks. */
export function inputsExitReason(exitCode: number): TransferFailure | undefined {
  if (exitCode === FETCH_FAILED) return 'refused';
  if (exitCode === SIZE_MISMATCH) return 'cut';
  if (exitCode === DIGEST_MISMATCH) return 'digest';
  return undefined;
}

const AUTH = '--header "Authorization: Bearer $OUTPOST_DATA_TOKEN"';

/**
 * The inputs helper (posix): receive the tar into the workspace as a file (on stdin: exactly the size
 * announced, so it ends without waiting for a stdin close, which the v4 attach protocol cannot send),
 * check its size and sha256,
 * then extract it and make everything group-writable (the volume's group is the pod's fsGroup, so a
 * step running as another uid than the helper can write, as GitLab's init-permissions step does;
 * symlinks are left alone: chmod would follow them out). $0 is the workspace.
 */
const INPUTS_SCRIPT = [
  'f="$0/.outpost-inputs.tar"; ok=1',
  `if [ -n "\${OUTPOST_DATA_URL:-}" ]; then wget -q -t 1 -O "$f" ${AUTH} "$OUTPOST_DATA_URL/inputs" || ok=0; else head -c "$OUTPOST_INPUTS_SIZE" > "$f" || ok=0; fi`,
  'n=$(wc -c < "$f" 2>/dev/null | tr -d " "); n=${n:-0}',
  `if [ "$ok" = 0 ] && [ "$n" = 0 ]; then echo "inputs: cannot receive them\${OUTPOST_DATA_URL:+ from the agent at $OUTPOST_DATA_URL}" >&2; exit ${FETCH_FAILED}; fi`,
  `[ "$n" = "$OUTPOST_INPUTS_SIZE" ] || { echo "inputs: received $n of $OUTPOST_INPUTS_SIZE bytes" >&2; exit ${SIZE_MISMATCH}; }`,
  'd=$(sha256sum "$f" | cut -d " " -f 1)',
  `[ "$d" = "$OUTPOST_INPUTS_SHA256" ] || { echo "inputs: received sha256 $d, expected $OUTPOST_INPUTS_SHA256" >&2; exit ${DIGEST_MISMATCH}; }`,
  'tar -xf "$f" -C "$0" && rm -f "$f" && find "$0" -mindepth 1 ! -type l -exec chmod g+rwX {} +',
].join('\n');

/**
 * The inputs helper's command on Linux. (Windows helpers keep a plain extraction, with no sha256sum in
 * nanoserver: windows.ts's windowsExtractCommand; see docs/kubernetes.md.)
 */
export function inputsCommand(pool: KubernetesPoolSettings): string[] {
  return ['sh', '-c', INPUTS_SCRIPT, pool.workspace];
}

function tokenEnv(link: AgentDataLink): V1EnvVar[] {
  return [
    { name: 'OUTPOST_DATA_URL', value: link.url },
    // Read by the kubelet from the step's Secret: the token is not in the pod spec.
    { name: 'OUTPOST_DATA_TOKEN', valueFrom: { secretKeyRef: { name: link.secret, key: DATA_TOKEN_KEY } } },
  ];
}

export function inputsEnv(transfer: PodTransfer | undefined): V1EnvVar[] {
  if (!transfer) return [];
  return [
    { name: 'OUTPOST_INPUTS_SIZE', value: String(transfer.inputs.size) },
    { name: 'OUTPOST_INPUTS_SHA256', value: transfer.inputs.sha256 },
    ...(transfer.agent ? tokenEnv(transfer.agent) : []),
  ];
}

export function outputsEnv(transfer: PodTransfer | undefined): V1EnvVar[] {
  return transfer?.agent ? tokenEnv(transfer.agent) : [];
}

/** One piece of an upload: small enough for busybox wget, which holds a request body in memory. */
export const UPLOAD_PART_MIB = 8;

/**
 * `agent` path, run by exec in the outputs helper once the step ended: for each (slot, dir) pair,
 * tar the dir into the workspace, then push it in pieces and say its size and sha256. Any failure
 * stops with the agent's answer on stderr. Each exec tars to a file of its own ($$): an agent that
 * restarted may upload from a pod while its previous process still does.
 */
const PUSH_SCRIPT = [
  'ws=$0',
  'while [ $# -gt 1 ]; do',
  '  slot=$1; dir=$2; shift 2; f="$ws/.outpost-upload.$$.tar"; u="$OUTPOST_DATA_URL/uploads/$slot"',
  '  tar -cf "$f" -C "$dir" . || exit 1',
  '  n=$(wc -c < "$f" | tr -d " "); d=$(sha256sum "$f" | cut -d " " -f 1); i=0',
  '  while :; do',
  `    dd if="$f" of="$f.part" bs=1048576 skip=$((i*${UPLOAD_PART_MIB})) count=${UPLOAD_PART_MIB} 2>/dev/null || exit 1`,
  '    [ -s "$f.part" ] || break',
  `    wget -q -t 1 -O - ${AUTH} --post-file "$f.part" "$u?part=$i" >/dev/null || { echo "cannot push upload $slot to the agent at $OUTPOST_DATA_URL" >&2; exit 1; }`,
  '    i=$((i+1))',
  '  done',
  `  wget -q -t 1 -O - ${AUTH} --post-data "" "$u/done?size=$n&sha256=$d" >/dev/null || { echo "the agent refused upload $slot" >&2; exit 1; }`,
  '  rm -f "$f" "$f.part"',
  'done',
].join('\n');

export function pushCommand(pool: KubernetesPoolSettings, dirs: string[]): string[] {
  return ['sh', '-c', PUSH_SCRIPT, pool.workspace, ...dirs.flatMap((dir, slot) => [String(slot), dir])];
}

/** The line the `api` path's upload prints on stderr before the archive: "outpost-archive <size> <sha256>". */
const ARCHIVE_LINE = /outpost-archive (\d+) ([0-9a-f]{64})/;

/**
 * `api` path: tar `dir` to a file in the workspace, say its size and sha256 on stderr, then write it to
 * stdout; the agent compares what it received (parseArchiveReport). `id` names a Windows helper's
 * file (a posix one uses its shell's pid).
 */
export function streamOutCommand(pool: KubernetesPoolSettings, dir: string, id: string): string[] {
  if (pool.helperShell === 'cmd') return windowsStreamOutCommand(pool.workspace, dir, id);
  return [
    'sh',
    '-c',
    [
      'f="$0/.outpost-upload.$$.tar"',
      'tar -cf "$f" -C "$1" . || exit 1',
      'echo "outpost-archive $(wc -c < "$f" | tr -d " ") $(sha256sum "$f" | cut -d " " -f 1)" >&2',
      'cat "$f"; rc=$?; rm -f "$f"; exit $rc',
    ].join('\n'),
    pool.workspace,
    dir,
  ];
}

/** What an `api` path upload said it sent: its size, and its sha256 unless its helper had no tool for it. */
export interface SentArchive {
  size: number;
  sha256: string | undefined;
}

export function parseArchiveReport(pool: KubernetesPoolSettings, stderr: string): SentArchive | undefined {
  if (pool.helperShell === 'cmd') return parseWindowsArchiveReport(stderr);
  const m = ARCHIVE_LINE.exec(stderr);
  return m?.[1] && m[2] ? { size: Number(m[1]), sha256: m[2] } : undefined;
}

/** The step's Secret with its data token added (a Secret of its own when the step had none). */
export function withDataToken(
  secret: V1Secret | undefined,
  meta: { name: string; namespace: string; labels: Record<string, string> },
  token: string,
): V1Secret {
  const base: V1Secret = secret ?? {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: meta.name, namespace: meta.namespace, labels: meta.labels },
    type: 'Opaque',
    data: {},
  };
  return {
    apiVersion: base.apiVersion,
    kind: base.kind,
    metadata: base.metadata,
    type: base.type,
    data: { ...base.data, [DATA_TOKEN_KEY]: Buffer.from(token).toString('base64') },
  };
}

/** The data token a step's Secret holds, for a reattached step. */
export function dataTokenOf(secret: V1Secret | undefined): string | undefined {
  const raw = secret?.data?.[DATA_TOKEN_KEY];
  return raw ? Buffer.from(raw, 'base64').toString('utf8') : undefined;
}
