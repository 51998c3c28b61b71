// A pipeline's graph of jobs and resources, jobs coloured by their latest build, one group (tab) at a
// time when the pipeline has `groups`; pause and unpause.

import { useMemo, useState } from 'react';
import { api } from '../api.js';
import { ErrorNote, NotFound, isNotFound } from '../error-note.js';
import { pipelineGraph } from '../graph.js';
import { usePoll } from '../poll.js';
import { keyOf, label } from '../pipeline-key.js';
import { Link, followLink, paths } from '../router.js';
import { StatusBadge } from '../status.js';
import { jobStatus } from './Dashboard.js';

export function PipelinePage({ team, pipeline }: { team: string; pipeline: string }) {
  const { data, error, reload } = usePoll(async () => {
    const [all, jobs, resources] = await Promise.all([
      api.pipelines(team),
      api.jobs(team, pipeline),
      api.resources(team, pipeline),
    ]);
    return { summary: all.find((p) => keyOf(p) === pipeline), jobs, resources };
  }, [team, pipeline]);
  const groups = [...new Set(data?.jobs.flatMap((j) => j.groups))];
  const [group, setGroup] = useState(() => new URLSearchParams(location.search).get('group') ?? '');
  const shownGroup = groups.includes(group) ? group : (groups[0] ?? '');
  const pick = (g: string) => {
    setGroup(g);
    history.replaceState(null, '', `${location.pathname}?group=${encodeURIComponent(g)}`);
  };
  const graph = useMemo(
    () =>
      data &&
      pipelineGraph(
        shownGroup ? data.jobs.filter((j) => j.groups.includes(shownGroup)) : data.jobs,
        data.resources,
      ),
    [data, shownGroup],
  );
  const byJob = new Map(data?.jobs.map((j) => [`job:${j.name}`, j]));
  const byResource = new Map(data?.resources.map((r) => [`resource:${r.name}`, r]));
  const paused = data?.summary?.paused ?? false;
  const toggle = () => void api.setPipelinePaused(team, pipeline, !paused).then(reload);

  if (isNotFound(error)) return <NotFound error={error} />;
  return (
    <main className="page">
      <div className="toolbar">
        <h1>
          <Link to="/">{team}</Link> / {label(pipeline)}
        </h1>
        {paused && <StatusBadge status="paused" />}
        <button onClick={toggle} disabled={!data?.summary}>
          {paused ? 'Unpause pipeline' : 'Pause pipeline'}
        </button>
      </div>
      <ErrorNote error={error} />
      {groups.length > 0 && (
        <div className="tabs" role="tablist" aria-label="groups">
          {groups.map((g) => (
            <button
              key={g}
              role="tab"
              aria-selected={g === shownGroup}
              className={g === shownGroup ? 'tab active' : 'tab'}
              onClick={() => pick(g)}
            >
              {g}
            </button>
          ))}
        </div>
      )}
      {graph && (
        <svg
          className="graph"
          role="img"
          aria-label={`graph of pipeline ${label(pipeline)}`}
          width={graph.width}
          height={graph.height}
          viewBox={`0 0 ${graph.width} ${graph.height}`}
        >
          <defs>
            <marker
              id="arrow"
              viewBox="0 0 8 8"
              refX="8"
              refY="4"
              markerWidth="7"
              markerHeight="7"
              orient="auto"
            >
              <path d="M0,0 L8,4 L0,8 z" className="arrow" />
            </marker>
          </defs>
          {graph.edges.map((e) => (
            <polyline
              key={`${e.from}->${e.to}`}
              className="edge"
              markerEnd="url(#arrow)"
              data-edge={`${e.from}->${e.to}`}
              points={e.points.map((p) => `${p.x},${p.y}`).join(' ')}
            />
          ))}
          {graph.nodes.map((n) => {
            const job = byJob.get(n.id);
            const resource = byResource.get(n.id);
            const status = job ? jobStatus(job) : '';
            const failing = resource?.checkStatus === 'failed' || resource?.checkStatus === 'errored';
            const className = job
              ? `node job status-${status}`
              : `node resource${resource?.pinnedVersion ? ' pinned' : ''}${failing ? ' failing' : ''}`;
            const to = job ? paths.job(team, pipeline, job.name) : paths.resource(team, pipeline, n.label);
            // A link (SVG's <a>): reached with Tab and opened with Enter, and openable in a new tab.
            return (
              <g key={n.id} className={className} data-node={n.id} transform={`translate(${n.x},${n.y})`}>
                <a
                  href={to}
                  onClick={followLink(to)}
                  aria-label={job ? `job ${n.label}: ${status}` : `resource ${n.label}`}
                >
                  <title>
                    {job ? `${n.label}: ${status}` : `${n.label}${failing ? ' (check failing)' : ''}`}
                  </title>
                  <rect width={n.width} height={n.height} rx={job ? 3 : 12} />
                  <text x={n.width / 2} y={n.height / 2 + 4} textAnchor="middle">
                    {resource?.pinnedVersion ? '📌 ' : ''}
                    {n.label}
                  </text>
                </a>
              </g>
            );
          })}
        </svg>
      )}
    </main>
  );
}
