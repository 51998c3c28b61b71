// fly's short names for its commands (fly/commands/fly.go), in one table so scripts written for fly
// (`fly -t ci sp -p app -c ci.yml`, `fly tj -j app/unit -w`) run unchanged. Applied after every command
// is registered; a command Outpost does not have (yet) is skipped, as is an alias a command already has.

import type { Command } from 'commander';

export const FLY_ALIASES: Readonly<Record<string, readonly string[]>> = {
  targets: ['ts'],
  'delete-target': ['dtg'],
  'edit-target': ['etg'],
  login: ['l'],
  logout: ['o'],
  teams: ['t'],
  'get-team': ['gt'],
  'set-team': ['st'],
  'rename-team': ['rt'],
  'destroy-team': ['dt'],
  execute: ['e'],
  watch: ['w'],
  intercept: ['hijack', 'i'],
  containers: ['cs'],
  sync: ['s'],
  jobs: ['js'],
  'paused-jobs': ['pjs'],
  'pause-job': ['pj'],
  'unpause-job': ['uj'],
  'schedule-job': ['sj'],
  pipelines: ['ps'],
  'paused-pipelines': ['pps'],
  'destroy-pipeline': ['dp'],
  'get-pipeline': ['gp'],
  'set-pipeline': ['sp'],
  'pause-pipeline': ['pp'],
  'archive-pipeline': ['ap'],
  'unpause-pipeline': ['up'],
  'expose-pipeline': ['ep'],
  'hide-pipeline': ['hp'],
  'rename-pipeline': ['rp'],
  'validate-pipeline': ['vp'],
  'format-pipeline': ['fp'],
  'order-pipelines': ['op'],
  'order-instanced-pipelines': ['oip'],
  resources: ['rs'],
  'resource-versions': ['rvs'],
  'check-resource': ['cr'],
  'pin-resource': ['pr'],
  'unpin-resource': ['ur'],
  'enable-resource-version': ['erv'],
  'disable-resource-version': ['drv'],
  'clear-resource-cache': ['crc'],
  'clear-versions': ['cv'],
  'check-resource-type': ['crt'],
  'clear-task-cache': ['ctc'],
  builds: ['bs'],
  'abort-build': ['ab'],
  'rerun-build': ['rb'],
  'trigger-job': ['tj'],
  curl: ['c'],
};

export function addFlyAliases(program: Command): void {
  for (const command of program.commands) {
    for (const alias of FLY_ALIASES[command.name()] ?? [])
      if (!command.aliases().includes(alias)) command.alias(alias);
  }
}
