// A build status as the colour-coded badge every page uses.

import type { BuildStatus } from '../../hub/api/types.js';

export type ShownStatus = BuildStatus | 'paused' | 'none';

export function StatusBadge({ status }: { status: ShownStatus }) {
  return <span className={`badge status-${status}`}>{status === 'started' ? 'running' : status}</span>;
}

export function duration(from: number | null, to: number | null): string {
  if (from === null) return '';
  const s = Math.max(0, Math.round(((to ?? Date.now()) - from) / 1000));
  return s < 60
    ? `${s}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m${s % 60}s`
      : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}
