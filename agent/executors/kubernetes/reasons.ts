// Reads a pod's status as the step's state, in words. Pure: the executor feeds it every pod update and
// acts on the answer (send inputs, follow logs, end the step). Concourse's three kinds of failure are
// kept apart: the step's own failure (exit code, OOM-killed, its timeout) is 'failed'; the platform's
// (the pending timeout, image pull, eviction, config errors, a vanished pod) is 'errored'.
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { ExecResult } from '../executor.js';
import { inputsExitReason, TRANSFER_WORDS } from './data-path.js';
import type { PendingPhase } from './pending.js';
import { INPUTS_CONTAINER, STEP_CONTAINER } from './pod.js';

/** Why a step ended, as a type: callers branch on this, never on the message's words. */
export type EndCause =
  | 'exited'
  | 'oom-killed'
  | 'deadline'
  | 'evicted'
  | 'start-error'
  | 'inputs-rejected'
  /** The inputs did not arrive whole (cut, other digest) or could not be fetched: data-path.ts. */
  | 'inputs-transfer'
  | 'image'
  | 'container-config'
  | 'pod-failed';

export type PodView =
  /**
   * Not running yet, and nothing says it never will: waiting for a node (Unschedulable included: an
   * autoscaler may add one) or for images and containers. `reason` is the cluster's own words.
   */
  | { state: 'pending'; phase: Exclude<PendingPhase, 'input-transfer'>; reason: string }
  /** An image cannot be pulled; the executor ends the step once this lasted the pool's grace. */
  | { state: 'pull-failing'; image: string; message: string }
  /** The inputs helper runs and waits for the inputs on its stdin. */
  | { state: 'inputs' }
  /** The step's container runs (or ran): its log can be followed. */
  | { state: 'running' }
  /** The step is over: `started` tells whether its container ever ran (it has a log). */
  | { state: 'ended'; result: ExecResult; started: boolean; cause: EndCause };

const PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName']);
// Waiting reasons that will not fix themselves: the step errors at once.
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

function statusOf(statuses: V1ContainerStatus[] | undefined, name: string): V1ContainerStatus | undefined {
  return statuses?.find((s) => s.name === name);
}

function errored(error: string, cause: EndCause): PodView {
  return { state: 'ended', result: { status: 'errored', exitStatus: -1, error }, started: false, cause };
}

function waitingProblem(s: V1ContainerStatus | undefined, what: string): PodView | undefined {
  const waiting = s?.state?.waiting;
  if (!waiting?.reason) return undefined;
  if (waiting.reason === 'InvalidImageName' || waiting.reason === 'ErrImageNeverPull')
    return errored(
      `${what}: image ${s?.image ?? ''}: ${waiting.reason}: ${waiting.message ?? ''}`.trim(),
      'image',
    );
  if (PULL_REASONS.has(waiting.reason))
    return { state: 'pull-failing', image: s?.image ?? '', message: waiting.message ?? waiting.reason };
  if (CONFIG_REASONS.has(waiting.reason))
    return errored(`${what}: ${waiting.reason}: ${waiting.message ?? 'no message'}`, 'container-config');
  return undefined;
}

export function viewPod(pod: V1Pod): PodView {
  const status = pod.status;
  const step = statusOf(status?.containerStatuses, STEP_CONTAINER);
  const stepEnd = step?.state?.terminated;
  const stepStarted = Boolean(step?.state?.running ?? stepEnd?.startedAt);

  // Pod-level endings first: they kill every container, so the step's exit code says nothing.
  if (status?.phase === 'Failed' && status.reason === 'Evicted')
    return {
      state: 'ended',
      result: { status: 'errored', exitStatus: -1, error: `pod evicted: ${status.message ?? 'no message'}` },
      started: stepStarted,
      cause: 'evicted',
    };
  if (status?.phase === 'Failed' && status.reason === 'DeadlineExceeded')
    return {
      state: 'ended',
      result: { status: 'failed', exitStatus: stepEnd?.exitCode ?? -1, error: 'timeout exceeded' },
      started: stepStarted,
      cause: 'deadline',
    };

  if (stepEnd) {
    const code = stepEnd.exitCode;
    if (stepEnd.reason === 'OOMKilled')
      return {
        state: 'ended',
        result: { status: 'failed', exitStatus: code, error: 'out of memory: the step was OOM-killed' },
        started: true,
        cause: 'oom-killed',
      };
    if (stepEnd.reason === 'StartError' || stepEnd.reason === 'ContainerCannotRun')
      return {
        state: 'ended',
        result: {
          status: 'errored',
          exitStatus: -1,
          error: `the step's command could not start: ${stepEnd.message ?? stepEnd.reason}`,
        },
        started: false,
        cause: 'start-error',
      };
    return {
      state: 'ended',
      result:
        code === 0
          ? { status: 'succeeded', exitStatus: 0, error: undefined }
          : { status: 'failed', exitStatus: code, error: undefined },
      started: true,
      cause: 'exited',
    };
  }
  if (step?.state?.running) return { state: 'running' };

  const inputs = statusOf(status?.initContainerStatuses, INPUTS_CONTAINER);
  const inputsEnd = inputs?.state?.terminated;
  const transfer = inputsEnd ? inputsExitReason(inputsEnd.exitCode) : undefined;
  if (transfer)
    return errored(
      `inputs: ${TRANSFER_WORDS[transfer]} (${transfer}): ${inputsEnd?.message?.trim() ?? ''}`.trim(),
      'inputs-transfer',
    );
  if (inputsEnd && inputsEnd.exitCode !== 0)
    return errored(
      `inputs could not be placed in the pod (exit ${inputsEnd.exitCode}): ${inputsEnd.message ?? inputsEnd.reason ?? ''}`.trim(),
      'inputs-rejected',
    );
  const problem = waitingProblem(inputs, 'inputs helper') ?? waitingProblem(step, 'step');
  if (problem) return problem;
  if (inputs?.state?.running) return { state: 'inputs' };

  if (status?.phase === 'Failed')
    return errored(`pod failed: ${status.reason ?? ''} ${status.message ?? ''}`.trim(), 'pod-failed');
  const scheduled = status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status !== 'True') {
    // Unschedulable is the scheduler's word for "not yet": a node may join (autoscaler) or free up.
    const reason =
      scheduled?.reason === 'Unschedulable'
        ? `unschedulable: ${scheduled.message ?? 'no node fits the pod'}`
        : 'waiting for a node';
    return { state: 'pending', phase: 'scheduling', reason };
  }
  const waiting = step?.state?.waiting ?? inputs?.state?.waiting;
  const reason = waiting?.reason
    ? `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`
    : 'starting';
  return { state: 'pending', phase: 'image-pull', reason };
}
