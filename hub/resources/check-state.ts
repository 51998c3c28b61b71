// A resource's check state: when its last check started and ended, and how it ended. The state belongs
// to one config identity (the history key's configHash): a check of another config says nothing about
// the current one, so readers here ignore a state recorded under a different key.

import type { ResourceState, Store, Version, VersionKey } from '../store/store.js';

/** The check state if it was recorded for this config; undefined when none or for another one. */
export function stateOfConfig(state: ResourceState | undefined, key: VersionKey): ResourceState | undefined {
  return state?.configHash === key.configHash ? state : undefined;
}

export async function recordCheckStarted(store: Store, key: VersionKey, at: number): Promise<void> {
  await store.resources.updateState(key, { lastCheckStartedAt: at });
}

/** A check that found versions (oldest first): they join the history and the check succeeded. */
export async function recordCheckSucceeded(
  store: Store,
  key: VersionKey,
  versions: Version[],
  at: number,
): Promise<void> {
  await store.resources.saveVersions(
    key,
    versions.map((version) => ({ version, metadata: [] })),
    at,
  );
  await store.resources.updateState(key, {
    checkStatus: 'succeeded',
    checkError: null,
    lastCheckEndedAt: at,
  });
}

/** A check that could not run or did not succeed, and why. */
export async function recordCheckFailed(
  store: Store,
  key: VersionKey,
  status: 'errored' | 'failed' | 'aborted',
  error: string,
  at: number,
): Promise<void> {
  await store.resources.updateState(key, { checkStatus: status, checkError: error, lastCheckEndedAt: at });
}

/**
 * Whether a check of this config started at or after `since` and has ended (its versions are saved only
 * when it ends); `running`: one is under way now, so its versions are not in yet.
 */
export function checkedSince(
  state: ResourceState | undefined,
  key: VersionKey | undefined,
  since: number,
  running: boolean,
): boolean {
  const current = key && stateOfConfig(state, key);
  const started = current?.lastCheckStartedAt ?? null;
  const ended = current?.lastCheckEndedAt ?? null;
  return started !== null && started >= since && ended !== null && ended >= started && !running;
}

/**
 * When the next periodic check of this config is due, `every` ms after the last one started; undefined
 * when it is due now (never checked, or last checked under another config).
 */
export function nextCheckDue(
  state: ResourceState | undefined,
  key: VersionKey,
  every: number,
): number | undefined {
  const started = stateOfConfig(state, key)?.lastCheckStartedAt;
  return started == null ? undefined : started + every;
}
