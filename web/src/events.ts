// A build's event stream (GET /builds/:id/events, server-sent events). Read with fetch rather than
// EventSource so the credential travels in a header, never in the URL.

import type { BuildEventEnvelope } from '../../hub/api/types.js';
import { API_PREFIX } from '../../hub/api/types.js';
import { authHeaders } from './auth.js';

/** An event with its seq (the stream's event id). */
export type SeqEvent = BuildEventEnvelope & { seq: number };

/**
 * Calls `onEvent` for each event after seq `after` (replayed, then live) until the stream ends or `signal`
 * aborts.
 */
export async function followBuildEvents(
  id: number,
  after: number,
  onEvent: (e: SeqEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const headers: Record<string, string> = { ...authHeaders(), accept: 'text/event-stream' };
  if (after > 0) headers['last-event-id'] = String(after);
  const res = await fetch(`${API_PREFIX}/builds/${id}/events`, { headers, signal });
  if (!res.ok || !res.body) throw new Error(`event stream: HTTP ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const lines = block.split('\n');
      if (lines.includes('event: end')) return;
      if (!lines.includes('event: event')) continue;
      const data = lines
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      const id = lines.find((l) => l.startsWith('id: '));
      if (data && id) onEvent({ ...(JSON.parse(data) as BuildEventEnvelope), seq: Number(id.slice(4)) });
    }
  }
}
