// Choosing a job's input versions (pure): for every get, the newest version that satisfies its pin,
// `version: every` and `passed:` constraints, where inputs that share a passed job must have gone
// through one same build of it together (Concourse's joint resolution). A backtracking search, newest
// versions first; when nothing fits, a sentence that says which input and why.

export interface VersionCandidate {
  id: number;
  /** Higher is newer. */
  order: number;
}

export interface InputSpec {
  /** The get's name. */
  name: string;
  resource: string;
  /** Enabled versions of the resource's current history, newest first (only the pinned one when pinned). */
  versions: VersionCandidate[];
  /** A pin that matched no version, said in words; the input cannot be satisfied. */
  pinProblem?: string;
  /** For each passed job: version id -> the ids of that job's succeeded builds that had it. */
  passed: Map<string, Map<number, Set<number>>>;
  /** `version: every`: the next version after the newest this job already used, in order. */
  every: boolean;
  /** Versions earlier builds of the job used for this input. */
  used: Set<number>;
}

export type Resolution = { ok: true; chosen: Map<string, number> } | { ok: false; reason: string };

/** Bounds the search on pathological histories; the scheduler tries again on the next change. */
const MAX_STEPS = 100_000;

/** The order in which an input's versions are tried. */
function ordered(input: InputSpec): VersionCandidate[] {
  const fitting = input.versions.filter((v) =>
    [...input.passed.values()].every((builds) => builds.has(v.id)),
  );
  if (!input.every) return fitting;
  // every: the oldest version newer than everything used so far, then (all used) the newest.
  const newestUsed = Math.max(0, ...fitting.filter((v) => input.used.has(v.id)).map((v) => v.order));
  const next = fitting.filter((v) => v.order > newestUsed).sort((a, b) => a.order - b.order);
  return [...next, ...fitting.filter((v) => v.order <= newestUsed)];
}

export function resolveInputs(inputs: InputSpec[]): Resolution {
  const options = inputs.map(ordered);
  for (const [i, input] of inputs.entries()) {
    if (input.pinProblem !== undefined) return { ok: false, reason: input.pinProblem };
    if (input.versions.length === 0)
      return { ok: false, reason: `no versions of resource "${input.resource}" are available yet` };
    if (options[i]?.length === 0) {
      const jobs = [...input.passed.keys()].join(', ');
      return { ok: false, reason: `no version of ${input.name} satisfies passed: [${jobs}]` };
    }
  }
  const chosen = new Map<string, number>();
  // For each passed job, the builds every input chosen so far went through together.
  const builds = new Map<string, Set<number>>();
  let steps = 0;
  const search = (i: number): boolean => {
    const input = inputs[i];
    if (!input) return true;
    for (const version of options[i] ?? []) {
      if (++steps > MAX_STEPS) return false;
      const narrowed = new Map<string, Set<number>>();
      let fits = true;
      for (const [job, byVersion] of input.passed) {
        const had = byVersion.get(version.id) ?? new Set<number>();
        const sofar = builds.get(job);
        const together = sofar ? new Set([...had].filter((b) => sofar.has(b))) : had;
        if (together.size === 0) {
          fits = false;
          break;
        }
        narrowed.set(job, together);
      }
      if (!fits) continue;
      const saved = new Map(builds);
      for (const [job, set] of narrowed) builds.set(job, set);
      chosen.set(input.name, version.id);
      if (search(i + 1)) return true;
      chosen.delete(input.name);
      builds.clear();
      for (const [job, set] of saved) builds.set(job, set);
    }
    return false;
  };
  if (search(0)) return { ok: true, chosen };
  const constrained = inputs.filter((input) => input.passed.size > 0).map((input) => input.name);
  return {
    ok: false,
    reason:
      steps > MAX_STEPS
        ? 'too many version combinations to search; the scheduler tries again on the next change'
        : `no set of versions of ${constrained.join(', ')} went through the same builds of their passed jobs`,
  };
}
