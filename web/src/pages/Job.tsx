// A job: why its newest build waits (first, where the eye lands), its build history, trigger and pause.

import { api } from '../api.js';
import { ErrorNote, NotFound, isNotFound } from '../error-note.js';
import { usePoll } from '../poll.js';
import { label } from '../pipeline-key.js';
import { Link, navigate, paths } from '../router.js';
import { StatusBadge, duration } from '../status.js';

export function JobPage({ team, pipeline, job }: { team: string; pipeline: string; job: string }) {
  const { data, error, reload } = usePoll(async () => {
    const [jobs, builds] = await Promise.all([api.jobs(team, pipeline), api.jobBuilds(team, pipeline, job)]);
    return { summary: jobs.find((j) => j.name === job), builds };
  }, [team, pipeline, job]);
  const waiting = data?.builds.find((b) => b.waitingReason !== null);
  const paused = data?.summary?.paused ?? false;
  const trigger = () => void api.trigger(team, pipeline, job).then((b) => navigate(paths.build(b.id)));
  const togglePause = () => void api.setJobPaused(team, pipeline, job, !paused).then(reload);

  if (isNotFound(error)) return <NotFound error={error} />;
  return (
    <main className="page">
      <div className="toolbar">
        <h1>
          <Link to={paths.pipeline(team, pipeline)}>{label(pipeline)}</Link> / {job}
        </h1>
        {paused && <StatusBadge status="paused" />}
        <button onClick={trigger}>Trigger build</button>
        <button onClick={togglePause}>{paused ? 'Unpause job' : 'Pause job'}</button>
      </div>
      {waiting && (
        <p className="waiting" role="status">
          <strong>#{waiting.name} is waiting:</strong> {waiting.waitingReason}
        </p>
      )}
      <ErrorNote error={error} />
      <table className="history">
        <thead>
          <tr>
            <th>Build</th>
            <th>Status</th>
            <th>Created</th>
            <th>Duration</th>
          </tr>
        </thead>
        <tbody>
          {data?.builds.map((b) => (
            <tr key={b.id}>
              <td>
                <Link to={paths.build(b.id)}>#{b.name}</Link>
              </td>
              <td>
                <StatusBadge status={b.status} />
              </td>
              <td>{new Date(b.createdAt).toLocaleString()}</td>
              <td>{duration(b.startedAt, b.endedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data?.builds.length === 0 && <p className="muted">No builds yet.</p>}
    </main>
  );
}
