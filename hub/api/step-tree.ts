// A build's plan as the step tree clients draw: each node's id (the `origin.id` of its events), kind and
// display name, and its children. Sources, params and vars are left out: they are config, not progress.

import type { PlanNode } from '../pipeline/plan.js';
import type { BuildStep } from './types.js';

export function stepTree(node: PlanNode): BuildStep {
  const step = (name: string | null, children: PlanNode[] = []): BuildStep => ({
    id: node.id,
    kind: node.kind,
    name,
    children: children.map(stepTree),
  });
  switch (node.kind) {
    case 'task':
    case 'get':
    case 'put':
    case 'check':
    case 'load_var':
    case 'run':
    case 'artifact_input':
      return step(node.name);
    case 'set_pipeline':
      return step(node.pipeline);
    case 'do':
    case 'in_parallel':
      return step(null, node.steps);
    case 'retry':
      return step(null, node.attempts);
    case 'try':
    case 'timeout':
    case 'across':
      return step(null, [node.step]);
    default:
      // A hook: the step, then the hook that follows it.
      return step(null, [node.step, node.hook]);
  }
}
