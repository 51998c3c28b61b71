// The task config that Concourse's initialize-task and start-task events carry (its `event.TaskConfig`:
// platform, image, run, inputs). Shown as `running PATH ARGS`, so secrets in the args are masked.

import type { TaskEventConfig } from '../api/types.js';
import type { StepSpec } from '../dispatch/types.js';

export function taskEventConfig(spec: StepSpec): TaskEventConfig {
  return {
    platform: spec.platform,
    image: spec.image ? `${spec.image.repository}:${spec.image.tag}` : '',
    run: {
      path: spec.run.path,
      args: spec.run.args.map((a) => redact(a, spec.redact)),
      dir: spec.run.dir,
    },
    inputs: spec.inputs.map((i) => ({ name: i.name, path: i.path })),
  };
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length))
    if (secret) out = out.split(secret).join('((redacted))');
  return out;
}
