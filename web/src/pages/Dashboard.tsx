// Every pipeline as a card of its jobs' latest statuses, filtered by name and status.

import { useState } from 'react';
import type { JobSummary } from '../../../hub/api/types.js';
import { api, ApiFailure, type Pipeline } from '../api.js';
import { token, useSession } from '../auth.js';
import { ErrorNote } from '../error-note.js';
import { usePoll } from '../poll.js';
import { Link, paths } from '../router.js';
import { StatusBadge, type ShownStatus } from '../status.js';

const FILTERS: ShownStatus[] = ['succeeded', 'failed', 'errored', 'aborted', 'started', 'pending', 'paused'];

export function jobStatus(job: JobSummary): ShownStatus {
  if (job.paused) return 'paused';
  return job.latestBuild?.status ?? 'none';
}

interface Card {
  pipeline: Pipeline;
  jobs: JobSummary[];
}

/** A visitor may not list teams (nor see a team's unexposed pipelines): those answers are "nothing". */
const orNothing = <T,>(p: Promise<T[]>, fallback: T[] = []): Promise<T[]> =>
  p.catch((err: unknown) => {
    if (err instanceof ApiFailure && (err.status === 401 || err.status === 403 || err.status === 404))
      return fallback;
    throw err;
  });

/** The chosen team's pipelines, or those of every team the viewer may see; archived ones are hidden. */
async function loadCards(team: string): Promise<Card[]> {
  const teams = team ? [team] : (await orNothing(api.teams(), [{ name: 'main' }])).map((t) => t.name);
  const pipelines = (await Promise.all(teams.map((t) => orNothing(api.pipelines(t))))).flat();
  return Promise.all(
    pipelines
      .filter((p) => !p.archived)
      .map(async (p) => ({ pipeline: p, jobs: await orNothing(api.jobs(p.team, p.name)) })),
  );
}

export function Dashboard() {
  const { team } = useSession();
  const { data, error } = usePoll(() => loadCards(team), [team]);
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
      <ErrorNote error={error} />
      {!token() && (
        <p className="muted">
          Showing the pipelines exposed to everyone. <Link to="/login">Sign in</Link> to see your teams'
          pipelines.
        </p>
      )}
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
              {pipeline.public && <span className="tag">exposed</span>}
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
