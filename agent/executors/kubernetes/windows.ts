// What Windows pods need beyond the Linux shape: the node's Windows build (a process-isolated Windows
// container runs only on a host of its image's build), and workspace ACLs ContainerUser can write.

/** Windows Server release tags (servercore, nanoserver, and images built on them) and their builds. */
const BUILDS: readonly [RegExp, string][] = [
  [/(^|[^a-z0-9])(ltsc2016|1607)([^a-z0-9]|$)/i, '10.0.14393'],
  [/(^|[^a-z0-9])(ltsc2019|1809)([^a-z0-9]|$)/i, '10.0.17763'],
  [/(^|[^a-z0-9])1903([^a-z0-9]|$)/i, '10.0.18362'],
  [/(^|[^a-z0-9])1909([^a-z0-9]|$)/i, '10.0.18363'],
  [/(^|[^a-z0-9])2004([^a-z0-9]|$)/i, '10.0.19041'],
  [/(^|[^a-z0-9])20h2([^a-z0-9]|$)/i, '10.0.19042'],
  [/(^|[^a-z0-9])(ltsc2022|2022)([^a-z0-9]|$)/i, '10.0.20348'],
  [/(^|[^a-z0-9])(ltsc2025|2025)([^a-z0-9]|$)/i, '10.0.26100'],
];

/**
 * The Windows build (`node.kubernetes.io/windows-build`, major.minor.build) an image's tag names:
 * `servercore:ltsc2022` -> 10.0.20348, `dotnet/framework/sdk:4.8-windowsservercore-ltsc2019` ->
 * 10.0.17763, `nanoserver:10.0.20348.2700` -> 10.0.20348. Undefined when the tag says none (or the
 * image is named by digest only).
 */
export function windowsBuildOfImage(image: string): string | undefined {
  const withoutDigest = image.split('@')[0] ?? '';
  const colon = withoutDigest.lastIndexOf(':');
  if (colon <= withoutDigest.lastIndexOf('/')) return undefined;
  const tag = withoutDigest.slice(colon + 1);
  const exact = /(^|[^0-9.])(10\.0\.\d{5})(\.\d+)?([^0-9.]|$)/.exec(tag);
  if (exact?.[2]) return exact[2];
  return BUILDS.find(([re]) => re.test(tag))?.[1];
}

/** BUILTIN\Users, the group ContainerUser is in, by its well-known SID (the same in every image). */
const USERS_SID = '*S-1-5-32-545';

/**
 * The Windows inputs helper's command (cmd): untar stdin into the workspace, then give BUILTIN\Users
 * Modify, inherited by everything below ((OI)(CI)M), on each top-level directory it made. The helper
 * runs as ContainerUser (Pod Security `restricted` asks for a non-root user, and on Windows that is
 * any but ContainerAdministrator): it owns what it extracted, so it may change those ACLs; the step
 * (ContainerUser too, possibly another account SID in another image) then writes its inputs and
 * outputs. The volume root itself keeps the node's ACL (kubernetes#75049).
 */
export function windowsExtractCommand(workspace: string, topDirs: readonly string[]): string[] {
  const grants = topDirs.map((d) => `icacls "${workspace}\\${d}" /grant ${USERS_SID}:(OI)(CI)M /T /Q`);
  return ['cmd', '/S', '/C', [`tar -xf - -C "${workspace}"`, ...grants].join(' && ')];
}

/** cmd metacharacters a path in a helper's command line cannot hold (it is quoted, but % still expands). */
export const CMD_METACHARACTERS = /["%&|<>^]/;

/** The size line the Windows upload prints on stderr: `outpost-archive-size <bytes>`. */
const SIZE_LINE = /outpost-archive-size (\d+)/;
/** certutil's answer: `SHA256 hash of <file>:`, then the digest (hex pairs spaced on older builds). */
const CERTUTIL_SHA256 = /SHA256 hash of [^\n]*:\r?\n([0-9a-fA-F ]+)\r?\n/;

/**
 * `api` path, Windows outputs helper (cmd, nanoserver: tar, `for`'s `%~z` size, and `type`, which
 * copies a file byte for byte when its output is not the console): tar `dir` to a file of this exec's
 * own (`id`) in the workspace, say its size on stderr, and its sha256 where the image has certutil
 * (Server Core does, nanoserver does not), then write the file to stdout. `&` binds loosest in cmd,
 * so each part runs in turn; a failing tar or type exits 1. `dir` holds no cmd metacharacter (buildPod
 * refused the step's pod otherwise).
 */
export function windowsStreamOutCommand(workspace: string, dir: string, id: string): string[] {
  const f = `${workspace}\\.outpost-upload-${id}.tar`;
  return [
    'cmd',
    '/S',
    '/C',
    [
      `(tar -cf "${f}" -C "${dir}" . || exit 1)`,
      `(for %A in ("${f}") do @echo outpost-archive-size %~zA 1>&2)`,
      `(certutil -hashfile "${f}" SHA256 1>&2 2>NUL)`,
      `(type "${f}" || (del "${f}" & exit 1))`,
      `del "${f}"`,
    ].join(' & '),
  ];
}

/** What the Windows upload said it sent: always its size, its sha256 only where certutil ran. */
export function parseWindowsArchiveReport(
  stderr: string,
): { size: number; sha256: string | undefined } | undefined {
  const size = SIZE_LINE.exec(stderr)?.[1];
  if (size === undefined) return undefined;
  const hex = CERTUTIL_SHA256.exec(stderr)?.[1]?.replace(/ /g, '').toLowerCase();
  return { size: Number(size), sha256: hex && /^[0-9a-f]{64}$/.test(hex) ? hex : undefined };
}
