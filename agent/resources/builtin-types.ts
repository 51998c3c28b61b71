// The resource types the agent implements itself. A pool runs them inside the agent, with no
// container (all of them unless its config lists fewer) and advertises the ones it runs, so the hub
// sends a step of a built-in type only to a pool that has it.

export const BUILTIN_TYPES = ['git', 'mock', 'registry-image', 'semver', 'time'] as const;
export type BuiltinType = (typeof BUILTIN_TYPES)[number];
