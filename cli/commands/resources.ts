// Resource commands: check-resource and check-resource-type (optionally from a version),
// resource-versions, resources,
// pin-resource / unpin-resource, enable-resource-version / disable-resource-version.

import type { Command } from 'commander';
import type { BuildSummary, CheckResourceRequest, ResourceVersionSummary } from '../../hub/api/types.js';
import type { ApiClient } from '../api-client.js';
import { parseJobRef, parsePositiveInt, type CliContext } from '../context.js';
import { CliError } from '../io.js';
import { formatDateTime, toMillis } from '../render/time.js';
import { streamBuild } from './watch.js';

/** `PIPELINE/RESOURCE`, named as the user typed it in messages. */
export function parseResourceRef(ref: string): { pipeline: string; resource: string } {
  try {
    const { pipeline, job } = parseJobRef(ref);
    return { pipeline, resource: job };
  } catch {
    throw new CliError(`invalid resource '${ref}': expected PIPELINE/RESOURCE`);
  }
}

/** `key:value` pairs (fly's -f/--from and -v/--version form) as a version. */
export function parseVersion(pairs: string[]): Record<string, string> {
  const version: Record<string, string> = {};
  for (const pair of pairs) {
    const colon = pair.indexOf(':');
    if (colon <= 0) throw new CliError(`invalid version '${pair}': expected KEY:VALUE`);
    version[pair.slice(0, colon)] = pair.slice(colon + 1);
  }
  return version;
}

/** A version as resource-versions prints it: sorted `key:value` pairs joined with commas. */
export function formatVersion(version: Record<string, string>): string {
  return Object.keys(version)
    .sort()
    .map((k) => `${k}:${version[k] ?? ''}`)
    .join(',');
}

const collect = (value: string, previous: string[]) => [...previous, value];

/**
 * The newest version whose fields include every given `key:value` (fly's rule: an exact match of the
 * pairs given, not of every field).
 */
async function latestVersionOf(
  client: ApiClient,
  pipeline: string,
  resource: string,
  pairs: string[],
): Promise<ResourceVersionSummary> {
  const wanted = parseVersion(pairs);
  const found = (await client.listResourceVersions(pipeline, resource, 1000)).find((v) =>
    Object.entries(wanted).every(([key, value]) => v.version[key] === value),
  );
  if (!found) throw new CliError(`resource ${pipeline}/${resource} has no version ${formatVersion(wanted)}`);
  return found;
}

interface CheckOptions {
  resource: string;
  from: string[];
  async?: boolean;
  shallow?: boolean;
}

/** check-resource and check-resource-type: start the check, say which build, and watch it unless -a. */
async function check(
  ctx: CliContext,
  cmd: Command,
  refText: string,
  opts: { from: string[]; async?: boolean; shallow?: boolean },
  start: (
    client: ApiClient,
    pipeline: string,
    name: string,
    req: CheckResourceRequest,
  ) => Promise<BuildSummary>,
): Promise<void> {
  const ref = parseResourceRef(refText);
  const client = await ctx.client(cmd);
  const build = await start(client, ref.pipeline, ref.resource, {
    ...(opts.from.length > 0 ? { from: parseVersion(opts.from) } : {}),
    ...(opts.shallow === true ? { shallow: true } : {}),
  });
  ctx.out(`checking ${ref.pipeline}/${ref.resource} in build ${build.id}\n`);
  if (opts.async !== true) ctx.exitCode = await streamBuild(ctx, client, build.id, { timestamps: false });
}

export function registerResourceCommands(program: Command, ctx: CliContext): void {
  program
    .command('check-resource')
    .description("Check a resource for new versions now and show the check's output")
    .requiredOption('-r, --resource <pipeline/resource>', 'the resource to check')
    .option('-f, --from <key:value>', 'check from this version (repeatable)', collect, [])
    .option('-a, --async', 'start the check and return without watching it')
    .option('--shallow', 'check only the resource, not the custom resource types it runs on')
    .addHelpText(
      'after',
      `
Examples:
  outpost check-resource -r my-app/repo
  outpost check-resource -r my-app/repo -f ref:abc123`,
    )
    .action((opts: CheckOptions, cmd: Command) =>
      check(ctx, cmd, opts.resource, opts, (client, pipeline, name, req) =>
        client.checkResource(pipeline, name, req),
      ),
    );

  program
    .command('check-resource-type')
    .description("Check a resource type for new versions now and show the check's output")
    .requiredOption('-r, --resource-type <pipeline/type>', 'the resource type to check')
    .option('-f, --from <key:value>', 'check from this version (repeatable)', collect, [])
    .option('-a, --async', 'start the check and return without watching it')
    .action((opts: CheckOptions & { resourceType: string }, cmd: Command) =>
      check(ctx, cmd, opts.resourceType, opts, (client, pipeline, name, req) =>
        client.checkResourceType(pipeline, name, req),
      ),
    );

  program
    .command('resource-versions')
    .description("List a resource's versions, newest first")
    .requiredOption('-r, --resource <pipeline/resource>', 'the resource')
    .option('-c, --count <n>', 'how many versions to show', '50')
    .option('--json', 'print the raw JSON array')
    .action(async (opts: { resource: string; count: string; json?: boolean }, cmd: Command) => {
      const ref = parseResourceRef(opts.resource);
      const limit = parsePositiveInt(opts.count, '--count');
      const client = await ctx.client(cmd);
      const versions = await client.listResourceVersions(ref.pipeline, ref.resource, limit);
      if (opts.json === true) {
        ctx.out(JSON.stringify(versions, null, 2) + '\n');
        return;
      }
      ctx.out(
        ctx.table(
          ['id', 'version', 'enabled'],
          versions.map((v) => [String(v.id), formatVersion(v.version), v.enabled ? 'yes' : 'no']),
        ),
      );
    });

  program
    .command('resources')
    .description("List a pipeline's resources with their check status")
    .requiredOption('-p, --pipeline <name>', 'the pipeline')
    .option('--json', 'print the raw JSON array')
    .action(async (opts: { pipeline: string; json?: boolean }, cmd: Command) => {
      const client = await ctx.client(cmd);
      const resources = await client.listResources(opts.pipeline);
      if (opts.json === true) {
        ctx.out(JSON.stringify(resources, null, 2) + '\n');
        return;
      }
      ctx.out(
        ctx.table(
          ['name', 'type', 'pinned', 'check status', 'last checked', 'check error'],
          resources.map((r) => [
            r.name,
            r.type,
            r.pinnedVersion ? formatVersion(r.pinnedVersion) : 'n/a',
            r.checkStatus ?? 'not checked yet',
            r.lastCheckedAt === null ? 'n/a' : formatDateTime(toMillis(r.lastCheckedAt)),
            (r.checkError ?? '').split('\n')[0] ?? '',
          ]),
        ),
      );
    });

  program
    .command('pin-resource')
    .description('Pin a resource to one of its versions: jobs use only that version')
    .requiredOption('-r, --resource <pipeline/resource>', 'the resource')
    .requiredOption('-v, --version <key:value>', 'the version (repeatable)', collect, [])
    .option('-c, --comment <text>', 'why it is pinned')
    .action(async (opts: { resource: string; version: string[]; comment?: string }, cmd: Command) => {
      const ref = parseResourceRef(opts.resource);
      const client = await ctx.client(cmd);
      const found = await latestVersionOf(client, ref.pipeline, ref.resource, opts.version);
      await client.pinResourceVersion(ref.pipeline, ref.resource, found.id, opts.comment);
      // fly's words: the version as JSON (keys sorted, as Go marshals a map), the comment on its own line.
      ctx.out(`pinned '${ref.pipeline}/${ref.resource}' with version ${sortedJson(found.version)}\n`);
      if (opts.comment !== undefined) ctx.out(`pin comment '${opts.comment}' is saved\n`);
    });

  program
    .command('unpin-resource')
    .description('Remove the pin set with pin-resource')
    .requiredOption('-r, --resource <pipeline/resource>', 'the resource')
    .action(async (opts: { resource: string }, cmd: Command) => {
      const ref = parseResourceRef(opts.resource);
      await (await ctx.client(cmd)).unpinResource(ref.pipeline, ref.resource);
      ctx.out(`unpinned '${ref.pipeline}/${ref.resource}'\n`);
    });

  for (const enabled of [true, false]) {
    const name = enabled ? 'enable-resource-version' : 'disable-resource-version';
    program
      .command(name)
      .description(enabled ? 'Let jobs use a version again' : 'Keep jobs from using a version')
      .requiredOption('-r, --resource <pipeline/resource>', 'the resource')
      .requiredOption('-v, --version <key:value>', 'the version (repeatable)', collect, [])
      .action(async (opts: { resource: string; version: string[] }, cmd: Command) => {
        const ref = parseResourceRef(opts.resource);
        const client = await ctx.client(cmd);
        const { id } = await latestVersionOf(client, ref.pipeline, ref.resource, opts.version);
        await client.setResourceVersionEnabled(ref.pipeline, ref.resource, id, enabled);
        ctx.out(`${enabled ? 'enabled' : 'disabled'} version ${formatVersion(parseVersion(opts.version))}\n`);
      });
  }
}

/** JSON of a version with its keys sorted, as Go's encoding/json writes a map. */
function sortedJson(version: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(version).sort(([a], [b]) => (a < b ? -1 : 1))));
}
