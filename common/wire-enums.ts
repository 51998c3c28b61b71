// Wire enum <-> domain string mappings shared by both ends of the protocol, so the hub and the agent
// cannot disagree about what a value means.

import {
  LogStream,
  Platform,
  PoolAdmission_Verdict as Verdict,
  ResourceActionKind,
  StepStatus,
} from '../proto/gen/outpost/v1/agent.js';

export type PlatformName = 'linux' | 'windows' | 'darwin';
export type StepStatusName = 'succeeded' | 'failed' | 'errored' | 'aborted';
export type LogStreamName = 'stdout' | 'stderr' | 'system';
export type ResourceActionName = 'check' | 'get' | 'put';
export type AdmissionVerdictName = 'admitted' | 'refused' | 'unknown';

const PLATFORMS: [PlatformName, Platform][] = [
  ['linux', Platform.PLATFORM_LINUX],
  ['windows', Platform.PLATFORM_WINDOWS],
  ['darwin', Platform.PLATFORM_DARWIN],
];

const STATUSES: [StepStatusName, StepStatus][] = [
  ['succeeded', StepStatus.STEP_STATUS_SUCCEEDED],
  ['failed', StepStatus.STEP_STATUS_FAILED],
  ['errored', StepStatus.STEP_STATUS_ERRORED],
  ['aborted', StepStatus.STEP_STATUS_ABORTED],
];

const STREAMS: [LogStreamName, LogStream][] = [
  ['stdout', LogStream.LOG_STREAM_STDOUT],
  ['stderr', LogStream.LOG_STREAM_STDERR],
  ['system', LogStream.LOG_STREAM_SYSTEM],
];

const RESOURCE_ACTIONS: [ResourceActionName, ResourceActionKind][] = [
  ['check', ResourceActionKind.RESOURCE_ACTION_KIND_CHECK],
  ['get', ResourceActionKind.RESOURCE_ACTION_KIND_GET],
  ['put', ResourceActionKind.RESOURCE_ACTION_KIND_PUT],
];

const VERDICTS: [AdmissionVerdictName, Verdict][] = [
  ['admitted', Verdict.VERDICT_ADMITTED],
  ['refused', Verdict.VERDICT_REFUSED],
  ['unknown', Verdict.VERDICT_UNKNOWN],
];

function lookup<A, B>(pairs: [A, B][], value: A | B, side: 0 | 1): A | B | undefined {
  return pairs.find((pair) => pair[side] === value)?.[side === 0 ? 1 : 0];
}

export function platformToWire(name: string): Platform {
  return (
    (lookup(PLATFORMS, name as PlatformName, 0) as Platform | undefined) ?? Platform.PLATFORM_UNSPECIFIED
  );
}

export function platformFromWire(value: Platform): PlatformName | undefined {
  return lookup(PLATFORMS, value, 1) as PlatformName | undefined;
}

export function statusToWire(name: StepStatusName): StepStatus {
  return lookup(STATUSES, name, 0) as StepStatus;
}

export function statusFromWire(value: StepStatus): StepStatusName | undefined {
  return lookup(STATUSES, value, 1) as StepStatusName | undefined;
}

export function streamToWire(name: LogStreamName): LogStream {
  return lookup(STREAMS, name, 0) as LogStream;
}

export function streamFromWire(value: LogStream): LogStreamName | undefined {
  return lookup(STREAMS, value, 1) as LogStreamName | undefined;
}

export function resourceActionToWire(name: ResourceActionName): ResourceActionKind {
  return (
    (lookup(RESOURCE_ACTIONS, name, 0) as ResourceActionKind | undefined) ??
    ResourceActionKind.RESOURCE_ACTION_KIND_UNSPECIFIED
  );
}

export function resourceActionFromWire(value: ResourceActionKind): ResourceActionName | undefined {
  return lookup(RESOURCE_ACTIONS, value, 1) as ResourceActionName | undefined;
}

export function verdictToWire(name: AdmissionVerdictName): Verdict {
  return lookup(VERDICTS, name, 0) as Verdict;
}

export function verdictFromWire(value: Verdict): AdmissionVerdictName | undefined {
  return lookup(VERDICTS, value, 1) as AdmissionVerdictName | undefined;
}
