// The agents: cluster, state, pools with capacity and steps in use, last heartbeat.

import { api } from '../api.js';
import { usePoll } from '../poll.js';

export function AgentsPage() {
  const { data, error } = usePoll(() => api.agents(), []);
  return (
    <main className="page">
      <div className="toolbar">
        <h1>Agents</h1>
      </div>
      {error && <p className="error">{error.message}</p>}
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
    </main>
  );
}
