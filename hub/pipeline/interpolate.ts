// Set-pipeline-time interpolation of the vars given with -v/-y/-l. It works on the YAML node tree, so a
// substituted value keeps the position of the `((var))` it replaced and errors still point into the
// user's file. Vars that are not given stay as written, for the engine to resolve when the step runs.

import { isNode, LineCounter, parseDocument, Scalar, visit } from 'yaml';
import type { Document, Node } from 'yaml';

import type { Diagnostic } from './diagnostics.js';
import { sortDiagnostics } from './diagnostics.js';
import type { Walk } from './schema.js';
import { staticLookup, substitute, type StringResult } from './vars.js';

/** Calls `found` for every scalar value (not map key) that has a var the lookup resolves or rejects. */
function eachSubstitution(
  doc: Document,
  vars: Readonly<Record<string, unknown>>,
  found: (node: Scalar, result: StringResult) => Node | undefined,
): void {
  const lookup = staticLookup(vars);
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'string') return undefined;
      const result = substitute(node.value, lookup);
      if (!result.changed && result.errors.length === 0) return undefined;
      return found(node, result);
    },
  });
}

/**
 * Substitutes the given vars in the parsed document in place. A map or list value replaces the scalar
 * with a new node that carries the scalar's position (and anchor).
 */
export function interpolateDocument(
  doc: Document,
  vars: Readonly<Record<string, unknown>>,
  report: (node: Node, message: string) => void,
): void {
  eachSubstitution(doc, vars, (node, result) => {
    for (const e of result.errors) report(node, e);
    if (!result.changed) return undefined;
    const value = result.value;
    if (value === null || typeof value !== 'object') {
      node.value = value;
      // `source` is the text as written, which readers prefer for numbers ("1.50"); it is now stale.
      delete node.source;
      return undefined;
    }
    const replacement = doc.createNode(value);
    const range = node.range;
    if (range) {
      visit(replacement, (_, n) => {
        if (isNode(n)) n.range = [...range];
      });
      replacement.range = [...range];
    }
    if (node.anchor) replacement.anchor = node.anchor;
    return replacement;
  });
}

/** decodeDocument's transform that interpolates `vars`, if any, reporting problems as errors. */
export function withVars(
  vars: Readonly<Record<string, unknown>> | undefined,
): ((doc: Document, walk: Walk) => void) | undefined {
  return (
    vars && ((doc, walk) => interpolateDocument(doc, vars, (node, message) => walk.error(node, message)))
  );
}

/** A replacement for a scalar's source text that YAML reads back as `value`: JSON is valid flow YAML. */
function flowText(value: unknown): string {
  // Var values come from YAML, so they are JSON data (never undefined or functions).
  return JSON.stringify(value);
}

/**
 * The pipeline text with the given vars substituted, for storing what `set-pipeline -v` meant. Only the
 * scalars that change are rewritten (as JSON, which YAML reads back), so comments, layout and line numbers
 * stay as the user wrote them. Errors (a map interpolated into a string, a missing field) are reported.
 */
export function interpolate(
  source: string,
  vars: Readonly<Record<string, unknown>>,
  file = 'pipeline.yml',
): { source: string; diagnostics: Diagnostic[] } {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, merge: true, keepSourceTokens: false });
  const diagnostics: Diagnostic[] = [];
  const edits: { start: number; end: number; text: string }[] = [];
  eachSubstitution(doc, vars, (node, result) => {
    const [start, end] = node.range ?? [0, 0];
    for (const message of result.errors) {
      diagnostics.push({ file, ...lines.linePos(start), severity: 'error', message });
    }
    if (!result.changed) return undefined;
    const raw = source.slice(start, end);
    const block = node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED;
    // A block scalar's text is the value itself: substitute in place unless that would add lines.
    const inBlock = block ? substitute(raw, staticLookup(vars)).value : undefined;
    const keepsLines = typeof inBlock === 'string' && inBlock.split('\n').length === raw.split('\n').length;
    edits.push({ start, end, text: keepsLines ? inBlock : flowText(result.value) });
    return undefined;
  });
  let out = source;
  for (const e of edits.sort((a, b) => b.start - a.start)) {
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
  }
  return { source: out, diagnostics: sortDiagnostics(diagnostics) };
}
