// The steps of a plan tree in order, through every composite (do, in_parallel, retry attempts, try,
// timeout, across and hooks), so code that looks for one kind of step need not know the composites.

import type { PlanNode } from './plan.js';

export function* planSteps(node: PlanNode): Generator<PlanNode> {
  switch (node.kind) {
    case 'do':
    case 'in_parallel':
      for (const step of node.steps) yield* planSteps(step);
      return;
    case 'retry':
      for (const attempt of node.attempts) yield* planSteps(attempt);
      return;
    case 'try':
    case 'timeout':
    case 'across':
      yield* planSteps(node.step);
      return;
    case 'on_success':
    case 'on_failure':
    case 'on_error':
    case 'on_abort':
    case 'ensure':
      yield* planSteps(node.step);
      yield* planSteps(node.hook);
      return;
    default:
      yield node;
  }
}
