// Which agents to tell that a build ended (BuildEnded): those that reported a succeeded step of it
// through this hub. Such an agent may keep the step for `outpost intercept` until it hears (see
// agent/kept-steps.ts); a failed step's keep does not depend on the build.

/**
 * Builds remembered at most: a build whose end this replica never sees (its engine runs on another
 * replica) is forgotten oldest first, and its agents clean its steps up on their own timer.
 */
const MAX_BUILDS = 10_000;

export class BuildEndNotices {
  private readonly agents = new Map<number, Set<string>>();

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

  /** The build ended: the agents to tell, and the build is forgotten. */
  take(buildId: number): string[] {
    const names = this.agents.get(buildId);
    this.agents.delete(buildId);
    return names ? [...names] : [];
  }
}
