// Problems found in a pipeline file, located by file, line and column so editors and the CLI can jump to them.

export interface Diagnostic {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
  severity: 'error' | 'warning';
  message: string;
}

/** `file:line:col: message`, the form compilers use so terminals and editors make it a link. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.message}`;
}

/**
 * Sorted by position, duplicates removed: a node reached through several YAML aliases is checked once per
 * alias, but its problem should be reported once.
 */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const unique = diagnostics.filter((d) => {
    const key = `${d.severity}\u0000${formatDiagnostic(d)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  // Array.prototype.sort is stable, so diagnostics at the same position keep the order they were found in.
  return unique.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}
