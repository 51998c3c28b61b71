// The agents: cluster, state, pools with capacity and steps in use, last heartbeat; and the queue: the
// steps waiting for a pool, what they need and why no pool has taken them.

import { api, ApiFailure } from '../api.js';
import { ErrorNote } from '../error-note.js';
import { usePoll } from '../poll.js';
import { Link, paths } from '../router.js';
import { duration } from '../status.js';

export function AgentsPage() {
  const { data, error } = usePoll(() => api.agents(), []);
  return (
    <main className="page">
      <div className="toolbar">
        <h1>Agents</h1>
      </div>
      <ErrorNote error={error} />
      <table className="history">
        <thead>
          <tr>
            <th>Agent</th>
            <th>Cluster</th>
            <th>State</th>
            <th>Pools (in use / capacity)</th>
            <th>Version</th>
            <th>Last heartbeat</th>
          </tr>
        </thead>
        <tbody>
          {data?.map((a) => (
            <tr key={a.name}>
              <td>{a.name}</td>
              <td>{a.cluster}</td>
              <td>
                <span className={`badge agent-${a.state}`}>{a.state}</span>
              </td>
              <td>
                {a.pools.map((p) => (
                  <div key={p.name}>
                    {p.name} ({p.platform}, {p.executor}) {p.inUse}/{p.capacity}
                  </div>
                ))}
              </td>
              <td>{a.version}</td>
              <td>{a.lastHeartbeatAt === null ? '—' : new Date(a.lastHeartbeatAt).toLocaleTimeString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data?.length === 0 && <p className="muted">No agents have connected.</p>}
      <Queue />
    </main>
  );
}

function Queue() {
  const { data, error } = usePoll(() => api.queue(), []);
  // A hub without the queue route: the agents alone.
  if (error instanceof ApiFailure && error.status === 404) return null;
  return (
    <section aria-label="queue">
      <div className="toolbar">
        <h2>Queue</h2>
        {data && <span className="muted">{data.length} waiting</span>}
      </div>
      <ErrorNote error={error} />
      {data && data.length > 0 && (
        <table className="history">
          <thead>
            <tr>
              <th>Step</th>
              <th>Build</th>
              <th>Needs</th>
              <th>Waiting</th>
              <th>Why</th>
            </tr>
          </thead>
          <tbody>
            {data.map((q) => (
              <tr key={`${q.buildId}/${q.step}/${q.since}`}>
                <td>{q.step}</td>
                <td>
                  <Link to={paths.build(q.buildId)}>
                    {q.team}/{q.pipeline}/{q.job} #{q.buildName}
                  </Link>
                </td>
                <td>
                  {q.platform || 'any platform'}
                  {q.tags.length > 0 && ` [${q.tags.join(', ')}]`}
                </td>
                <td>{duration(q.since, null)}</td>
                <td className="waiting-reason">{q.reason ?? 'being placed'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data?.length === 0 && <p className="muted">Nothing is waiting for an agent.</p>}
    </section>
  );
}
