// What a running plan node can see: the build's artifacts, local vars, its abort signal and the id
// suffix that keeps steps of different `across` combinations apart.

import type { OutputArtifact } from '../dispatch/types.js';
import type { RegistryImage } from './image-ref.js';

export interface ArtifactBinding {
  digest: string;
  size: number;
  /** The agent that produced it, which likely still has it cached: placement prefers it. */
  agent: string | null;
  /** Set when a registry-image get fetched it: the image it is, for a task's `image:` (image-ref.ts). */
  image?: RegistryImage;
}

/** Why a scope was aborted; decides how the steps inside end. */
export type AbortKind = 'user' | 'timeout' | 'fail-fast';

export class AbortReason {
  constructor(readonly kind: AbortKind) {}

  /** Concourse's wording: a timeout fails the step, anything else interrupts it. */
  get ending(): { status: 'aborted' | 'failed'; error: string } {
    return this.kind === 'timeout'
      ? { status: 'failed', error: 'timeout exceeded' }
      : { status: 'aborted', error: 'interrupted' };
  }
}

export function abortReasonOf(signal: AbortSignal): AbortReason {
  return signal.reason instanceof AbortReason ? signal.reason : new AbortReason('user');
}

export class Scope {
  private constructor(
    /** Artifacts by name. Shared by a build's sequential steps; `across` and `in_parallel` branches share it too. */
    readonly artifacts: Map<string, ArtifactBinding>,
    /** `((.:name))` values, and which of them must be redacted. */
    readonly localVars: Map<string, { value: unknown; secret: boolean }>,
    readonly signal: AbortSignal,
    readonly idSuffix: string,
  ) {}

  static root(signal: AbortSignal): Scope {
    return new Scope(new Map(), new Map(), signal, '');
  }

  /** The same scope under another signal (a timeout, a fail-fast group). */
  withSignal(signal: AbortSignal): Scope {
    return new Scope(this.artifacts, this.localVars, signal, this.idSuffix);
  }

  /** A child for one `across` combination: its own vars layer and ids. */
  forCombination(vars: Record<string, unknown>, suffix: string): Scope {
    const local = new Map(this.localVars);
    for (const [name, value] of Object.entries(vars)) local.set(name, { value, secret: false });
    return new Scope(this.artifacts, local, this.signal, `${this.idSuffix}${suffix}`);
  }

  /** The id a plan node's step run and events use in this scope. */
  id(planId: string): string {
    return planId + this.idSuffix;
  }

  register(
    outputs: OutputArtifact[],
    mapping: Record<string, string>,
    agent: string | null,
    image?: RegistryImage,
  ): void {
    for (const output of outputs) {
      this.artifacts.set(mapping[output.name] ?? output.name, {
        digest: output.digest,
        size: output.size,
        agent,
        ...(image ? { image } : {}),
      });
    }
  }
}

/** A signal that aborts when `parent` does (with the parent's reason) or when the returned abort() is called. */
export function childSignal(parent: AbortSignal): {
  signal: AbortSignal;
  abort: (reason: AbortReason) => void;
  dispose: () => void;
} {
  const controller = new AbortController();
  const onParent = () => controller.abort(parent.reason);
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    dispose: () => parent.removeEventListener('abort', onParent),
  };
}
