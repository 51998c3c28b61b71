// How a build is named to people, the way the CLI and the hub show it: `team/pipeline/job #N`.

export interface BuildNameParts {
  team: string;
  pipeline: string;
  job: string;
  /** The build's name within its job ("1", "2", ...). */
  buildName: string;
}

export function buildName(b: BuildNameParts): string {
  return `${b.team}/${b.pipeline}/${b.job} #${b.buildName}`;
}
