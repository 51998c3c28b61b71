// Wire enum <-> domain string mappings shared by both ends of the protocol, so the hub and the agent
// cannot disagree about what a value means.

import { LogStream, Platform, StepStatus } from '../proto/gen/outpost/v1/agent.js';

export type PlatformName = 'linux' | 'windows' | 'darwin';
export type StepStatusName = 'succeeded' | 'failed' | 'errored' | 'aborted';
export type LogStreamName = 'stdout' | 'stderr' | 'system';

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
