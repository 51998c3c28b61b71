// Which agents to tell that a build ended (BuildEnded): those that reported a succeeded step of it
// through this hub. Such an agent may keep the step for `outpost intercept` until it hears (see
// agent/kept-steps.ts); a failed step's keep does not depend on the build.
//
// Replicas: the agent's Finished is handled by the replica holding its stream, while the build may end
// on another (the leader runs the engine). The replica where it ends tells its own agents and sends a
// `build_ended` hint; every replica tells the agents it recorded for the build. A lost hint leaves the
// agent to clean the step up on its own timer, as before.

import type { ReplicaSignals } from '../replicas/signals.js';

/**
 * Builds remembered at most: a build whose end this replica never hears of is forgotten oldest first,
 * and its agents clean its steps up on their own timer.
 */
const MAX_BUILDS = 10_000;

/** Tells the agent of that name, if its session is on this hub, that the build ended. */
export type TellBuildEnded = (agentName: string, buildId: number, failed: boolean) => void;

export class BuildEndNotices {
  private readonly agents = new Map<number, Set<string>>();

  constructor(
    private readonly tell: TellBuildEnded,
    private readonly signals?: ReplicaSignals,
  ) {
    signals?.on('build_ended', (payload) => {
      const [buildId, failed] = payload.split(' ');
      this.tellAgents(Number(buildId), failed === 'failed');
    });
  }

  /** An agent reported a succeeded step of the build. */
  succeeded(buildId: number, agentName: string): void {
    let names = this.agents.get(buildId);
    if (!names) {
      names = new Set();
      this.agents.set(buildId, names);
      if (this.agents.size > MAX_BUILDS) this.agents.delete(this.agents.keys().next().value as number);
    }
    names.add(agentName);
  }

  /** The build ended here: its agents are told, here and (replicas) on every other replica. */
  ended(buildId: number, failed: boolean): void {
    this.tellAgents(buildId, failed);
    this.signals?.publish('build_ended', `${buildId} ${failed ? 'failed' : 'succeeded'}`);
  }

  /** Tells the agents recorded here for the build, once: the build is forgotten. */
  private tellAgents(buildId: number, failed: boolean): void {
    const names = this.agents.get(buildId);
    if (!names) return;
    this.agents.delete(buildId);
    for (const name of names) this.tell(name, buildId, failed);
  }
}
