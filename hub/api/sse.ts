// Server-sent build events: replay from the store after Last-Event-ID, then follow live events. Memory
// stays bounded for slow readers: a reader whose socket backs up keeps taking live events while it has
// at most LIVE_BACKLOG_BYTES unsent (frames shared with the build's other readers, so that costs little);
// past that, live events are not buffered, and the reader catches up from the store, which holds every
// event anyway.

import type { ServerResponse } from 'node:http';
import type { BuildEvents } from '../events/build-events.js';
import { FrameSlabs, type FrameSlab, type SlabFrame } from '../log-text/frame-slabs.js';
import { frameWithPayload, payloadFieldPrefix } from '../log-text/log-payload.js';
import type { BuildEvent, Store } from '../store/store.js';

const PAGE = 500;
/**
 * Unsent bytes a reader may hold and still follow the live feed: a few of the log writer's batches
 * (1 MiB by default, published together), so a reader that lags briefly does not fall back to reading
 * back from the store what it was just handed.
 */
const LIVE_BACKLOG_BYTES = 4 * 1024 * 1024;
const TERMINAL = new Set(['succeeded', 'failed', 'errored', 'aborted']);

/**
 * Each live event's frame, encoded once however many readers follow its build (the event object is
 * the one BuildEvents hands every subscriber; a frame goes when nothing holds its event any more).
 */
const frames = new WeakMap<BuildEvent, Buffer>();

export function formatEvent(event: BuildEvent): Buffer {
  let frame = frames.get(event);
  if (!frame) {
    frame = event.logPayload ? framePayload(event, event.logPayload) : frameJson(event);
    frames.set(event, frame);
  }
  return frame;
}

function frameHead(event: BuildEvent): string {
  return `id: ${event.seq}\nevent: event\ndata: {"event":${JSON.stringify(event.type)},"version":${JSON.stringify(event.version)},"data":`;
}

/** The stored JSON is spliced in as it is: serializing the envelope again would copy every log chunk. */
function frameJson(event: BuildEvent): Buffer {
  return Buffer.from(`${frameHead(event)}${event.json}}\n\n`);
}

/** A log event with its payload kept as bytes: escaped straight into the frame, never decoded. */
function framePayload(
  event: BuildEvent,
  { data, bytes }: { data: string; bytes: Buffer },
  allocate?: (size: number) => Buffer,
): Buffer {
  return frameWithPayload(
    Buffer.from(frameHead(event) + payloadFieldPrefix(data)),
    bytes,
    FRAME_TAIL,
    allocate,
  );
}

/**
 * The streams' frames of log events, carved from reused slabs (frame-slabs.ts). A frame is shared by
 * the readers that write it in the turn it was made (a batch is published to every reader at once);
 * the turn's own reference is dropped on the next tick, and a later reader of the same event gets a
 * frame of its own. Each write holds a reference until Node is done with its bytes.
 */
const slabs = new FrameSlabs();
const slabFrames = new WeakMap<BuildEvent, SlabFrame>();
let madeThisTurn: BuildEvent[] = [];

function sharedFrame(event: BuildEvent): SlabFrame {
  let made = slabFrames.get(event);
  if (made) return made;
  if (!event.logPayload) return { frame: formatEvent(event), slab: undefined };
  let slab: FrameSlab | undefined;
  const frame = framePayload(event, event.logPayload, (size) => {
    const taken = slabs.take(size);
    slab = taken.slab;
    return taken.frame;
  });
  made = { frame, slab };
  slabFrames.set(event, made);
  if (madeThisTurn.length === 0) process.nextTick(endTurn);
  madeThisTurn.push(event);
  return made;
}

function endTurn(): void {
  const events = madeThisTurn;
  madeThisTurn = [];
  for (const event of events) {
    slabs.release(slabFrames.get(event)?.slab);
    slabFrames.delete(event);
  }
}

const FRAME_TAIL = Buffer.from('}}\n\n');

function isFinalStatus(event: BuildEvent): boolean {
  return event.type === 'status' && TERMINAL.has((JSON.parse(event.json) as { status: string }).status);
}

/** Streams a build's events to `res` until the build ends or the client goes away. */
export async function streamBuildEvents(
  res: ServerResponse,
  buildId: number,
  afterSeq: number,
  store: Store,
  events: BuildEvents,
): Promise<void> {
  // The stream's 200 says the build exists: not before the build's row is committed.
  if (store.uncommitted()) await store.durable();
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();

  let cursor = afterSeq;
  let catchingUp = false;
  let missed = false;
  let finished = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));

  const finish = () => {
    if (finished) return;
    finished = true;
    unsubscribe();
    clearInterval(keepAlive);
    if (!res.destroyed) res.end('event: end\ndata\n\n');
    resolveDone();
  };

  // A batch of log chunks is published in one go: its frames leave in one write to the socket, not one
  // each (corked until the next tick).
  let corked = false;
  const uncork = () => {
    corked = false;
    // end() uncorks fully; the socket may serve another response by now.
    if (!res.writableEnded) res.uncork();
  };
  const write = (event: BuildEvent): boolean => {
    if (event.seq <= cursor || finished) return true;
    cursor = event.seq;
    if (!corked) {
      corked = true;
      res.cork();
      process.nextTick(uncork);
    }
    const { frame, slab } = sharedFrame(event);
    slabs.retain(slab);
    const ok = slab ? res.write(frame, () => slabs.release(slab)) : res.write(frame);
    if (isFinalStatus(event)) finish();
    return ok;
  };

  const closed = () => finished || res.destroyed;

  const catchUp = async () => {
    catchingUp = true;
    for (;;) {
      const page = await store.listBuildEvents(buildId, cursor, PAGE);
      // Events read back may still wait in SQLite's commit batch: none leaves before its commit.
      if (store.uncommitted()) await store.durable();
      if (closed()) return;
      if (page.length === 0) {
        if (!missed) break;
        missed = false;
        continue;
      }
      for (const event of page) {
        if (!write(event)) await new Promise((resolve) => res.once('drain', resolve));
        if (closed()) return;
      }
    }
    catchingUp = false;
  };

  const startCatchUp = () => {
    catchUp().catch(() => finish());
  };

  const unsubscribe = events.subscribe(buildId, (event) => {
    if (catchingUp) {
      missed = true;
    } else if (event === undefined || event.seq > cursor + 1 || res.writableLength > LIVE_BACKLOG_BYTES) {
      // A hint of events stored by another replica, or a gap (theirs came first): read the store.
      missed = true;
      startCatchUp();
    } else {
      write(event);
    }
  });
  // Proxies close idle connections; a comment line every 15 s keeps a quiet build's stream open.
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  res.on('close', finish);

  startCatchUp();
  await done;
}
