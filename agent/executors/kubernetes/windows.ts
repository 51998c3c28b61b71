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
