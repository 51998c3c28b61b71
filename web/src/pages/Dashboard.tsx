// Every pipeline as a card of its jobs' latest statuses, filtered by name and status.

import { useState } from 'react';
import type { JobSummary, PipelineSummary } from '../../../hub/api/types.js';
import { api } from '../api.js';
import { usePoll } from '../poll.js';
import { Link, paths } from '../router.js';
import { StatusBadge, type ShownStatus } from '../status.js';

/** Until teams can be listed, the dashboard shows the team every hub has. */
const TEAMS = ['main'];
const FILTERS: ShownStatus[] = ['succeeded', 'failed', 'errored', 'aborted', 'started', 'pending', 'paused'];

export function jobStatus(job: JobSummary): ShownStatus {
  if (job.paused) return 'paused';
  return job.latestBuild?.status ?? 'none';
}

interface Card {
  pipeline: PipelineSummary;
  jobs: JobSummary[];
}

async function loadCards(): Promise<Card[]> {
  const pipelines = (await Promise.all(TEAMS.map((t) => api.pipelines(t)))).flat();
  return Promise.all(pipelines.map(async (p) => ({ pipeline: p, jobs: await api.jobs(p.team, p.name) })));
}

export function Dashboard() {
  const { data, error } = usePoll(loadCards, []);
  const [text, setText] = useState('');
  const [status, setStatus] = useState<ShownStatus | ''>('');
  const shown = (data ?? []).filter(
    (c) =>
      c.pipeline.name.includes(text.trim()) &&
      (status === '' ||
        (status === 'paused' && c.pipeline.paused) ||
        c.jobs.some((j) => jobStatus(j) === status)),
  );
  return (
    <main className="page">
      <div className="toolbar">
        <h1>Pipelines</h1>
        <input
          aria-label="filter by name"
          placeholder="filter by name"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <select
          aria-label="filter by status"
          value={status}
          onChange={(e) => setStatus(e.target.value as ShownStatus)}
        >
          <option value="">any status</option>
          {FILTERS.map((f) => (
            <option key={f} value={f}>
              {f === 'started' ? 'running' : f}
            </option>
          ))}
        </select>
      </div>
      {error && <p className="error">{error.message}</p>}
      {data && shown.length === 0 && <p className="muted">No pipelines match.</p>}
      <div className="cards">
        {shown.map(({ pipeline, jobs }) => (
          <section
            className={`card${pipeline.paused ? ' paused' : ''}`}
            key={`${pipeline.team}/${pipeline.name}`}
          >
            <header>
              <Link to={paths.pipeline(pipeline.team, pipeline.name)} className="card-title">
                {pipeline.name}
              </Link>
              <span className="muted">{pipeline.team}</span>
              {pipeline.paused && <StatusBadge status="paused" />}
            </header>
            <ul className="job-strip">
              {jobs.map((j) => (
                <li key={j.name}>
                  <Link
                    to={paths.job(j.team, j.pipeline, j.name)}
                    className={`job-cell status-${jobStatus(j)}`}
                    title={`${j.name}: ${jobStatus(j)}`}
                  >
                    {j.name}
                  </Link>
                </li>
              ))}
            </ul>
          </section>
        ))}
      </div>
    </main>
  );
}
