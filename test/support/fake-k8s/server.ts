// HTTPS routing for the fake API server: bearer-token authentication, RBAC, the core/v1 REST paths a
// CI executor uses, watch streams, pods/log, and websocket upgrades for pods/exec and pods/attach.
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiError, badRequest, methodNotAllowed, notFound, unauthorized } from './errors.js';
import type { Kubelet } from './kubelet.js';
import { formatLine, parseRfc3339, selectLines, nowNs } from './logs.js';
import type { Authorizer, RequestAttributes } from './rbac.js';
import type { Resources } from './resources.js';
import { parseTerminalSize, terminalSizer, underTerminal } from './exec-tty.js';
import { launchExec } from './runtime.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { kindOf, type KObject, type Resource, type Store } from './store.js';
import {
  chooseProtocol,
  cutAfter,
  serveAttach,
  serveExec,
  type StreamOptions,
} from './websocket-channels.js';

export interface ServerDeps {
  store: Store;
  resources: Resources;
  kubelet: Kubelet;
  authorizer: Authorizer;
  token: string;
  tls: { certPem: string; keyPem: string };
}

interface Route {
  resource: Resource;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const NAMESPACED: Resource[] = ['pods', 'secrets', 'events'];
const CLUSTER: Resource[] = ['namespaces', 'nodes'];

function parseRoute(pathname: string): Route | undefined {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] !== 'api' || parts[1] !== 'v1') return undefined;
  const rest = parts.slice(2);
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const resource = rest[2] as Resource;
    if (!NAMESPACED.includes(resource) || rest.length > 5) return undefined;
    return {
      resource,
      namespace: rest[1],
      ...(rest[3] ? { name: rest[3] } : {}),
      ...(rest[4] ? { subresource: rest[4] } : {}),
    };
  }
  const resource = rest[0] as Resource | undefined;
  if (!resource || rest.length > 2) return undefined;
  if (CLUSTER.includes(resource)) return { resource, ...(rest[1] ? { name: rest[1] } : {}) };
  if (NAMESPACED.includes(resource) && rest.length === 1) return { resource };
  return undefined;
}

const truthy = (v: string | null): boolean => v === 'true' || v === '1';

function verbFor(method: string, route: Route, query: URLSearchParams): string {
  switch (method) {
    case 'GET':
      if (route.name) return 'get';
      return truthy(query.get('watch')) ? 'watch' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return route.name ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  const e =
    err instanceof ApiError
      ? err
      : new ApiError(
          500,
          'InternalError',
          `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`,
        );
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, e.code, e.body());
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest(
      'the body of the request was in an unknown format - accepted media types include: application/json',
    );
  }
}

function authenticate(req: IncomingMessage, token: string): void {
  if (req.headers.authorization !== `Bearer ${token}`) throw unauthorized();
}

/**
 * A failure the server answers with instead of doing the request, `count` times, for requests matching
 * `verb` / `resource` (any when absent): 429 (with Retry-After), 500, 503, or a connection reset.
 * `reset-after-commit` (creates only) does the create, then drops the connection before answering:
 * the client cannot know that its object exists.
 * `cut` (websocket exec/attach only: resource `pods/exec` or `pods/attach`, verb `create`) serves the
 * stream, then drops its connection (no Status, no close frame) at the first stdin/stdout/stderr frame
 * that would take the data crossed past `afterBytes`: that frame is lost, every earlier one arrived.
 */
export interface Fault {
  kind: 429 | 500 | 503 | 'reset' | 'reset-after-commit' | 'cut';
  count: number;
  verb?: string;
  resource?: string;
  retryAfterSeconds?: number;
  /** `cut`: how many bytes of stream data cross the connection before it drops (default 0). */
  afterBytes?: number;
}

const FAULT_STATUS = {
  429: ['TooManyRequests', 'Too many requests, please try again later.'],
  500: ['InternalError', 'Internal error occurred: etcdserver: request timed out'],
  503: ['ServiceUnavailable', 'the server is currently unable to handle the request'],
} as const;

export class ApiServer {
  readonly server: https.Server;
  private readonly faults: Fault[] = [];
  /** How many requests got a fault instead of an answer. */
  faultsServed = 0;
  /** Every request (websocket upgrades included) that reached the server: the bench's API cost. */
  requestsServed = 0;
  /** Bytes both ways through exec/attach websockets that have closed: what crossed the API server. */
  streamedBytes = 0;
  private readonly watches = new Set<ServerResponse>();
  private readonly wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => chooseProtocol(offered),
  });

  constructor(private readonly d: ServerDeps) {
    this.server = https.createServer({ cert: d.tls.certPem, key: d.tls.keyPem }, (req, res) => {
      this.requestsServed++;
      this.handle(req, res).catch((err: unknown) => sendError(res, err));
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.requestsServed++;
      const tls = socket as Duplex & { bytesRead?: number; bytesWritten?: number };
      socket.once('close', () => (this.streamedBytes += (tls.bytesRead ?? 0) + (tls.bytesWritten ?? 0)));
      try {
        this.upgrade(req, socket, head);
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError(500, 'InternalError', String(err));
        const body = JSON.stringify(e.body());
        socket.end(
          `HTTP/1.1 ${e.code} ${e.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      }
    });
  }

  injectFault(fault: Fault): void {
    this.faults.push({ ...fault });
  }

  /** Takes one matching fault of one of `kinds`, if any is left. */
  private takeFault(verb: string, resource: string, kinds: Fault['kind'][]): Fault | undefined {
    const f = this.faults.find(
      (x) =>
        x.count > 0 &&
        kinds.includes(x.kind) &&
        (x.verb === undefined || x.verb === verb) &&
        (x.resource === undefined || x.resource === resource),
    );
    if (!f) return undefined;
    f.count--;
    this.faultsServed++;
    return f;
  }

  /** Ends every open watch stream (clients see the server close them, as after an API server restart). */
  closeWatches(): void {
    for (const res of this.watches) res.end();
    this.watches.clear();
  }

  async close(): Promise<void> {
    this.closeWatches();
    for (const ws of this.wss.clients) ws.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://fake');
    authenticate(req, this.d.token);
    const method = req.method ?? 'GET';
    if (url.pathname === '/version') {
      sendJson(res, 200, { major: '1', minor: '35', gitVersion: 'v1.35.0-fake', platform: 'linux/amd64' });
      return;
    }
    if (url.pathname === '/api') {
      sendJson(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
      return;
    }
    const route = parseRoute(url.pathname);
    if (!route) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const q = url.searchParams;
    const verb = verbFor(method, route, q);
    const resourceName = route.subresource ? `${route.resource}/${route.subresource}` : route.resource;
    const fault = this.takeFault(verb, resourceName, [429, 500, 503, 'reset']);
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault && typeof fault.kind === 'number') {
      const [reason, message] = FAULT_STATUS[fault.kind];
      if (fault.retryAfterSeconds !== undefined)
        res.setHeader('Retry-After', String(fault.retryAfterSeconds));
      throw new ApiError(fault.kind, reason, message);
    }
    const attrs: RequestAttributes = {
      verb,
      resource: route.resource,
      ...(route.subresource ? { subresource: route.subresource } : {}),
      ...(route.namespace ? { namespace: route.namespace } : {}),
      ...(route.name ? { name: route.name } : {}),
    };
    if (route.subresource === 'exec' || route.subresource === 'attach') {
      this.d.authorizer.check({ ...attrs, verb: method === 'GET' ? 'get' : 'create' });
      throw badRequest('Upgrade request required');
    }
    this.d.authorizer.check(attrs);
    const { store, resources } = this.d;
    const ns = route.namespace;
    if (route.subresource === 'log' && method === 'GET') {
      this.log(res, store.mustGet('pods', ns, route.name!), q);
      return;
    }
    if (route.subresource === 'status' && method === 'GET') {
      sendJson(res, 200, store.mustGet('pods', ns, route.name!));
      return;
    }
    if (route.subresource)
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    switch (verb) {
      case 'get':
        sendJson(
          res,
          200,
          store.mustGet(route.resource, route.resource === 'namespaces' ? undefined : ns, route.name!),
        );
        return;
      case 'list':
        this.list(res, route, q);
        return;
      case 'watch':
        this.watch(req, res, route, q);
        return;
      case 'create': {
        if (!ns) throw methodNotAllowed();
        const body = (await readBody(req)) as KObject;
        const dryRun = q.getAll('dryRun');
        if (dryRun.some((v) => v !== 'All'))
          throw badRequest(
            `dryRun: Unsupported value: "${dryRun.find((v) => v !== 'All') ?? ''}": supported values: "All"`,
          );
        const created = resources.create(route.resource, ns, body, dryRun.length > 0);
        if (this.takeFault(verb, resourceName, ['reset-after-commit'])) {
          req.socket.destroy();
          return;
        }
        sendJson(res, 201, created);
        return;
      }
      case 'update': {
        if (!ns) throw methodNotAllowed();
        sendJson(
          res,
          200,
          resources.replace(route.resource, ns, route.name!, (await readBody(req)) as KObject),
        );
        return;
      }
      case 'patch': {
        if (!ns) throw methodNotAllowed();
        const body = await readBody(req);
        sendJson(
          res,
          200,
          resources.patch(route.resource, ns, route.name!, req.headers['content-type'] ?? '', body),
        );
        return;
      }
      case 'delete': {
        if (!ns) throw methodNotAllowed();
        const opts = ((await readBody(req)) ?? {}) as {
          gracePeriodSeconds?: number;
          preconditions?: { uid?: string };
        };
        const graceParam = q.get('gracePeriodSeconds');
        const grace = graceParam !== null ? Number(graceParam) : opts.gracePeriodSeconds;
        if (route.resource === 'pods')
          sendJson(res, 200, resources.deletePod(ns, route.name!, grace, opts.preconditions?.uid));
        else sendJson(res, 200, resources.delete(route.resource, ns, route.name!, opts.preconditions?.uid));
        return;
      }
      case 'deletecollection': {
        if (!ns) throw methodNotAllowed();
        const opts = ((await readBody(req)) ?? {}) as { gracePeriodSeconds?: number };
        const graceParam = q.get('gracePeriodSeconds');
        const grace = graceParam !== null ? Number(graceParam) : opts.gracePeriodSeconds;
        const items = this.select(route, q).map((o) =>
          route.resource === 'pods'
            ? resources.deletePod(ns, o.metadata.name, grace)
            : (resources.delete(route.resource, ns, o.metadata.name), o),
        );
        sendJson(res, 200, this.listBody(route.resource, items, store.currentRevision));
        return;
      }
      default:
        throw methodNotAllowed();
    }
  }

  private select(route: Route, q: URLSearchParams): KObject[] {
    const labels = parseLabelSelector(q.get('labelSelector') ?? undefined);
    const fields = parseFieldSelector(route.resource, q.get('fieldSelector') ?? undefined);
    return this.d.store.list(route.resource, route.namespace, (o) => labels(o) && fields(o));
  }

  private listBody(
    resource: Resource,
    items: KObject[],
    resourceVersion: string,
    cont?: string,
  ): Record<string, unknown> {
    return {
      kind: `${kindOf(resource)}List`,
      apiVersion: 'v1',
      metadata: { resourceVersion, ...(cont ? { continue: cont } : {}) },
      // Items in a list carry no kind/apiVersion, as from a real server.
      items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest),
    };
  }

  private list(res: ServerResponse, route: Route, q: URLSearchParams): void {
    let items = this.select(route, q);
    let rv = this.d.store.currentRevision;
    let offset = 0;
    const cont = q.get('continue');
    if (cont) {
      const parsed = JSON.parse(Buffer.from(cont, 'base64').toString()) as { rv: string; offset: number };
      offset = parsed.offset;
      rv = parsed.rv; // fake: later pages come from the current state, not a snapshot at rv.
    }
    items = items.slice(offset);
    const limit = Number(q.get('limit') ?? 0);
    let next: string | undefined;
    if (limit > 0 && items.length > limit) {
      items = items.slice(0, limit);
      next = Buffer.from(JSON.stringify({ rv, offset: offset + limit })).toString('base64');
    }
    sendJson(res, 200, this.listBody(route.resource, items, rv, next));
  }

  private watch(req: IncomingMessage, res: ServerResponse, route: Route, q: URLSearchParams): void {
    const labels = parseLabelSelector(q.get('labelSelector') ?? undefined);
    const fields = parseFieldSelector(route.resource, q.get('fieldSelector') ?? undefined);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    // Answered at once, as the API server does: a watch with nothing to send yet is still open.
    res.flushHeaders();
    this.watches.add(res);
    const stop = this.d.store.watch(
      route.resource,
      route.namespace,
      q.get('resourceVersion') ?? undefined,
      (o) => labels(o) && fields(o),
      (ev) => {
        if (!res.writableEnded) res.write(JSON.stringify(ev) + '\n');
        if (ev.type === 'ERROR') res.end();
      },
    );
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    const cleanup = (): void => {
      stop();
      clearTimeout(timer);
      this.watches.delete(res);
    };
    res.on('close', cleanup);
    req.on('close', cleanup);
  }

  private log(res: ServerResponse, pod: KObject, q: URLSearchParams): void {
    const spec = pod.spec as {
      containers: Array<{ name: string }>;
      initContainers?: Array<{ name: string }>;
    };
    const name = pod.metadata.name;
    let container = q.get('container') ?? '';
    const names = spec.containers.map((c) => c.name);
    const initNames = (spec.initContainers ?? []).map((c) => c.name);
    if (!container) {
      if (names.length !== 1) {
        throw badRequest(
          `a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]` +
            (initNames.length ? ` or one of the init containers: [${initNames.join(' ')}]` : ''),
        );
      }
      container = names[0]!;
    }
    if (!names.includes(container) && !initNames.includes(container))
      throw badRequest(`container ${container} is not valid for pod ${name}`);
    const buf = this.d.kubelet.logSource(pod, container, truthy(q.get('previous')));
    const timestamps = truthy(q.get('timestamps'));
    let sinceNs: bigint | undefined;
    const sinceTime = q.get('sinceTime');
    const sinceSeconds = q.get('sinceSeconds');
    if (sinceTime && sinceSeconds)
      throw badRequest('at most one of sinceTime or sinceSeconds may be specified');
    if (sinceTime) {
      const parsed = parseRfc3339(sinceTime);
      if (parsed === undefined)
        throw badRequest(`parsing time "${sinceTime}" as "2006-01-02T15:04:05Z07:00": cannot parse`);
      // The API server forwards sinceTime to the kubelet as RFC3339 without fraction: whole seconds.
      sinceNs = (parsed / 1_000_000_000n) * 1_000_000_000n;
    } else if (sinceSeconds) sinceNs = nowNs() - BigInt(Number(sinceSeconds)) * 1_000_000_000n;
    const tailParam = q.get('tailLines');
    const limitBytes = Number(q.get('limitBytes') ?? 0);
    let written = 0;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    // A follow of a quiet container answers at once, as the kubelet flushes its headers.
    res.flushHeaders();
    const write = (text: string): boolean => {
      if (limitBytes > 0) {
        const left = limitBytes - written;
        if (left <= 0) return false;
        const b = Buffer.from(text).subarray(0, left);
        written += b.length;
        res.write(b);
        return written < limitBytes;
      }
      res.write(text);
      return true;
    };
    const lines = selectLines(buf, {
      ...(sinceNs !== undefined ? { sinceNs } : {}),
      ...(tailParam ? { tailLines: Number(tailParam) } : {}),
      timestamps,
    });
    for (const l of lines) {
      if (!write(formatLine(l, timestamps))) {
        res.end();
        return;
      }
    }
    if (!truthy(q.get('follow')) || buf.ended) {
      res.end();
      return;
    }
    const stop = buf.follow(
      (l) => {
        if (!write(formatLine(l, timestamps))) {
          stop();
          res.end();
        }
      },
      () => res.end(),
    );
    res.on('close', stop);
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'https://fake');
    authenticate(req, this.d.token);
    const route = parseRoute(url.pathname);
    if (
      !route?.name ||
      route.resource !== 'pods' ||
      (route.subresource !== 'exec' && route.subresource !== 'attach')
    ) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const attrs: RequestAttributes = {
      verb: 'get',
      resource: 'pods',
      subresource: route.subresource,
      namespace: route.namespace!,
      name: route.name,
    };
    this.d.authorizer.check(attrs);
    this.d.authorizer.check({ ...attrs, verb: 'create' });
    const q = url.searchParams;
    const o: StreamOptions = {
      stdin: truthy(q.get('stdin')),
      stdout: truthy(q.get('stdout')),
      stderr: truthy(q.get('stderr')),
      tty: truthy(q.get('tty')),
    };
    if (!o.stdin && !o.stdout && !o.stderr)
      throw badRequest('you must specify at least 1 of stdin, stdout, stderr');
    const pod = this.d.store.get('pods', route.namespace, route.name);
    if (!pod) throw notFound('pods', route.name);
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') {
      throw badRequest(
        `cannot ${route.subresource} into a container in a completed pod; current phase is ${phase}`,
      );
    }
    const spec = pod.spec as { containers: Array<{ name: string }> };
    let container = q.get('container') ?? '';
    if (!container) {
      if (spec.containers.length !== 1) {
        throw badRequest(
          `a container name must be specified for pod ${route.name}, choose one of: [${spec.containers.map((c) => c.name).join(' ')}]`,
        );
      }
      container = spec.containers[0]!.name;
    }
    const w = this.d.kubelet.worker(route.namespace!, route.name);
    const c = w?.containers.get(container);
    if (!w || !c) throw badRequest(`container ${container} is not valid for pod ${route.name}`);
    if (!c.proc?.pid || !c.running)
      throw badRequest(`unable to upgrade connection: container not found ("${container}")`);
    if (!req.headers['sec-websocket-protocol']?.split(',').some((p) => chooseProtocol(new Set([p.trim()])))) {
      throw badRequest(
        'unable to upgrade connection: no supported websocket subprotocol (v4.channel.k8s.io, v5.channel.k8s.io)',
      );
    }
    const proc = c.proc;
    const cut = this.takeFault('create', `pods/${route.subresource}`, ['cut']);
    const withCut = (ws: WebSocket): WebSocket => {
      // Before the stream's own listeners: the frame that crosses the limit never reaches them.
      if (cut) cutAfter(ws, cut.afterBytes ?? 0);
      return ws;
    };
    if (route.subresource === 'exec') {
      const command = q.getAll('command');
      if (!command.length) throw badRequest('you must specify at least one command for the container');
      const target = {
        isolation: this.d.kubelet.opts.isolation,
        pid: proc.pid!,
        rootfs: c.rootfs,
        workingDir: c.workingDir,
        env: c.env,
        runAs: c.runAs,
      };
      this.wss.handleUpgrade(req, socket, head, (upgraded) => {
        const ws = withCut(upgraded);
        if (!o.tty) return serveExec(ws, launchExec(target, command, o.stdin), o);
        // A terminal, as a runtime gives an exec with tty (exec-tty.ts), sized from the resize channel.
        const exec = launchExec(target, underTerminal(command), o.stdin);
        const resize = exec.pid === undefined ? undefined : terminalSizer(exec.pid);
        serveExec(ws, exec, o, (payload) => {
          const size = parseTerminalSize(payload);
          if (size) resize?.(size);
        });
      });
    } else {
      this.wss.handleUpgrade(req, socket, head, (ws) =>
        serveAttach(withCut(ws), { proc, stdinOnce: Boolean(c.spec.stdinOnce) }, o),
      );
    }
  }
}
