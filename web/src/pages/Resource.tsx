// A resource: its check status, pin, and versions (enable/disable, pin with a comment); "check now" with
// the check build's output as it runs.

import { useState } from 'react';
import type { ResourceVersionSummary } from '../../../hub/api/types.js';
import { api } from '../api.js';
import { useBuildStream } from '../build-stream.js';
import { ErrorNote, NotFound, isNotFound } from '../error-note.js';
import { LogView } from '../log-view.js';
import { usePoll } from '../poll.js';
import { label } from '../pipeline-key.js';
import { Link, paths } from '../router.js';
import { StatusBadge } from '../status.js';

const pairs = (v: Record<string, string>) =>
  Object.entries(v)
    .map(([k, x]) => `${k}: ${x}`)
    .join(', ');
const same = (a: Record<string, string> | null, b: Record<string, string>) =>
  a !== null && pairs(a) === pairs(b);

export function ResourcePage({
  team,
  pipeline,
  resource,
}: {
  team: string;
  pipeline: string;
  resource: string;
}) {
  const { data, error, reload } = usePoll(async () => {
    const [resources, versions] = await Promise.all([
      api.resources(team, pipeline),
      api.versions(team, pipeline, resource),
    ]);
    return { summary: resources.find((r) => r.name === resource), versions };
  }, [team, pipeline, resource]);
  const [failure, setFailure] = useState<unknown>();
  const [checkId, setCheckId] = useState<number>();
  const [comment, setComment] = useState('');
  const act = (p: Promise<unknown>) => void p.then(reload, setFailure);
  const summary = data?.summary;
  const pinned = summary?.pinnedVersion ?? null;
  const pinnedInConfig = summary?.pinComment === 'pinned in the pipeline config';
  const check = () =>
    void api.check(team, pipeline, resource).then((b) => {
      setCheckId(b.id);
      reload();
    }, setFailure);

  if (isNotFound(error)) return <NotFound error={error} />;
  return (
    <main className="page">
      <div className="toolbar">
        <h1>
          <Link to={paths.pipeline(team, pipeline)}>{label(pipeline)}</Link> / {resource}
        </h1>
        {summary && <span className="muted">{summary.type}</span>}
        {summary?.checkStatus && <StatusBadge status={summary.checkStatus} />}
        {summary?.lastCheckedAt && (
          <span className="muted">checked {new Date(summary.lastCheckedAt).toLocaleTimeString()}</span>
        )}
        <button onClick={check}>Check now</button>
      </div>
      <ErrorNote error={failure ?? error} />
      {summary?.checkError && (
        <pre className="check-error" role="status">
          {summary.checkError}
        </pre>
      )}
      {pinned && (
        <p className="pinned" role="status">
          <strong>Pinned:</strong> {pairs(pinned)}
          {summary?.pinComment && <span className="muted"> — {summary.pinComment}</span>}{' '}
          {!pinnedInConfig && <button onClick={() => act(api.unpin(team, pipeline, resource))}>Unpin</button>}
        </p>
      )}
      {checkId !== undefined && <CheckOutput id={checkId} />}
      <div className="toolbar">
        <h2>Versions</h2>
        <input
          aria-label="pin comment"
          placeholder="comment for a pin"
          value={comment}
          onChange={(e) => setComment(e.target.value)}
        />
      </div>
      <table className="history">
        <thead>
          <tr>
            <th>Version</th>
            <th>Metadata</th>
            <th>Enabled</th>
            <th>Pin</th>
          </tr>
        </thead>
        <tbody>
          {data?.versions.map((v: ResourceVersionSummary) => (
            <tr key={v.id} data-version={pairs(v.version)} className={v.enabled ? undefined : 'disabled'}>
              <td>
                <code>{pairs(v.version)}</code>
              </td>
              <td className="muted">{v.metadata.map((m) => `${m.name}=${m.value}`).join(' ')}</td>
              <td>
                <button
                  aria-label={`${v.enabled ? 'disable' : 'enable'} version ${pairs(v.version)}`}
                  onClick={() => act(api.setVersionEnabled(team, pipeline, resource, v.id, !v.enabled))}
                >
                  {v.enabled ? 'Disable' : 'Enable'}
                </button>
              </td>
              <td>
                {same(pinned, v.version) ? (
                  <span className="tag">pinned</span>
                ) : (
                  <button
                    disabled={pinnedInConfig}
                    onClick={() => act(api.pin(team, pipeline, resource, v.id, comment.trim()))}
                  >
                    Pin
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data?.versions.length === 0 && <p className="muted">No versions yet: check the resource.</p>}
    </main>
  );
}

/** The output of the check build just started, live. */
function CheckOutput({ id }: { id: number }) {
  const stream = useBuildStream(id);
  const steps = [...stream.model.steps.entries()];
  return (
    <section className="check-output" aria-label="check output">
      <header>
        Check <Link to={paths.build(id)}>build {id}</Link>
        {stream.model.status && <StatusBadge status={stream.model.status} />}
      </header>
      <ErrorNote error={stream.error} />
      {steps.map(([stepId, view]) => (
        <LogView
          key={stepId}
          stepId={stepId}
          stepName="check"
          view={view}
          version={stream.version}
          onRange={stream.want}
          follow
          showTimes={false}
          selected={null}
          target={null}
          onSelect={() => undefined}
          onScrollUp={() => undefined}
        />
      ))}
      {stream.model.status && steps.every(([, v]) => v.log.count === 0) && (
        <p className="muted">The check printed nothing.</p>
      )}
    </section>
  );
}
