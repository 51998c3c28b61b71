// How a path names a pipeline, as in Concourse: `/teams/T/pipelines/NAME/...` is the pipeline NAME
// without instance vars, and with `?vars={"key":"value"}` (or `vars.key="value"`, one per leaf) the
// instance of the group NAME with those instance vars. Route handlers see one `:pipeline` param, the
// pipeline's key (hub/pipeline/instance-vars.ts), and turn it back into a name and instance vars with
// refOfKey; for a pipeline without instance vars the key is just its name, as before instances.

import { InstanceVarsError, instanceVarsOfQuery, pipelineKey } from '../pipeline/instance-vars.js';
import { HttpError } from './errors.js';

/** `params` with its `pipeline` (when it has one) made the key of the instance the query names. */
export function addressPipeline<P>(params: P, query: unknown): P {
  const named = params as Record<string, unknown>;
  if (typeof named.pipeline !== 'string') return params;
  if (named.pipeline.includes('/'))
    throw new HttpError(
      400,
      'bad_request',
      'path parameter "pipeline": a pipeline name cannot contain "/"; name an instance with the vars query',
    );
  let instanceVars;
  try {
    instanceVars = instanceVarsOfQuery((query ?? {}) as Record<string, unknown>);
  } catch (err) {
    if (err instanceof InstanceVarsError) throw new HttpError(400, 'bad_request', err.message);
    throw err;
  }
  return {
    ...params,
    pipeline: pipelineKey({ name: named.pipeline, ...(instanceVars ? { instanceVars } : {}) }),
  };
}
