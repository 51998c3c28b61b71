// Every pipeline as a card of its jobs' latest statuses, filtered by name and status. The instances of
// an instance group (pipelines of one name with instance vars) share one card, a row each.

import { useState } from 'react';
import type { JobSummary } from '../../../hub/api/types.js';
import { api, ApiFailure, type Pipeline } from '../api.js';
import { token, useSession } from '../auth.js';
import { ErrorNote } from '../error-note.js';
import { usePoll } from '../poll.js';
import { keyOf, label } from '../pipeline-key.js';
import { Link, paths } from '../router.js';
import { StatusBadge, type ShownStatus } from '../status.js';

const FILTERS: ShownStatus[] = ['succeeded', 'failed', 'errored', 'aborted', 'started', 'pending', 'paused'];

export function jobStatus(job: JobSummary): ShownStatus {
  if (job.paused) return 'paused';
  return job.latestBuild?.status ?? 'none';
}

interface Instance {
  pipeline: Pipeline;
  jobs: JobSummary[];
}

/** A pipeline, or an instance group: its pipelines in the team's order. */
interface Card {
  team: string;
  name: string;
  instances: Instance[];
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
  const instances = await Promise.all(
    pipelines
      .filter((p) => !p.archived)
      .map(async (p) => ({ pipeline: p, jobs: await orNothing(api.jobs(p.team, keyOf(p))) })),
  );
  const cards = new Map<string, Card>();
  for (const i of instances) {
    const id = `${i.pipeline.team}/${i.pipeline.name}`;
    const card = cards.get(id) ?? { team: i.pipeline.team, name: i.pipeline.name, instances: [] };
    card.instances.push(i);
    cards.set(id, card);
  }
  return [...cards.values()];
}

/** A job strip: each job a cell coloured by its latest build. */
function JobStrip({ jobs, pipeline }: { jobs: JobSummary[]; pipeline: string }) {
  return (
    <ul className="job-strip">
      {jobs.map((j) => (
        <li key={j.name}>
          <Link
            to={paths.job(j.team, pipeline, j.name)}
            className={`job-cell status-${jobStatus(j)}`}
            title={`${j.name}: ${jobStatus(j)}`}
          >
            {j.name}
          </Link>
        </li>
      ))}
    </ul>
  );
}

export function Dashboard() {
  const { team } = useSession();
  const { data, error } = usePoll(() => loadCards(team), [team]);
  const [text, setText] = useState('');
  const [status, setStatus] = useState<ShownStatus | ''>('');
  const shown = (data ?? []).filter(
    (c) =>
      c.name.includes(text.trim()) &&
      (status === '' ||
        c.instances.some(
          (i) => (status === 'paused' && i.pipeline.paused) || i.jobs.some((j) => jobStatus(j) === status),
        )),
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
        {shown.map((card) => {
          const [only] = card.instances;
          // A pipeline without instance vars: its card as ever.
          if (card.instances.length === 1 && only && !only.pipeline.instance_vars) {
            const { pipeline, jobs } = only;
            return (
              <section
                className={`card${pipeline.paused ? ' paused' : ''}`}
                key={`${card.team}/${card.name}`}
              >
                <header>
                  <Link to={paths.pipeline(pipeline.team, pipeline.name)} className="card-title">
                    {pipeline.name}
                  </Link>
                  <span className="muted">{pipeline.team}</span>
                  {pipeline.paused && <StatusBadge status="paused" />}
                  {pipeline.public && <span className="tag">exposed</span>}
                </header>
                <JobStrip jobs={jobs} pipeline={pipeline.name} />
              </section>
            );
          }
          return (
            <section className="card instance-group" key={`${card.team}/${card.name}`}>
              <header>
                <span className="card-title">{card.name}</span>
                <span className="muted">{card.team}</span>
                <span className="tag">{card.instances.length} instances</span>
              </header>
              {card.instances.map(({ pipeline, jobs }) => {
                const key = keyOf(pipeline);
                return (
                  <div className={`instance${pipeline.paused ? ' paused' : ''}`} key={key}>
                    <Link to={paths.pipeline(pipeline.team, key)}>
                      {label(key).slice(card.name.length + 1) || card.name}
                    </Link>
                    {pipeline.paused && <StatusBadge status="paused" />}
                    <JobStrip jobs={jobs} pipeline={key} />
                  </div>
                );
              })}
            </section>
          );
        })}
      </div>
    </main>
  );
}
