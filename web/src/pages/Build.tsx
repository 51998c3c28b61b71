// A build: its step tree with each step's state, agent and pool, and each step's log (live, ANSI colours,
// virtualised, newest lines first, older ones fetched as scrolled to); links to lines, timestamps, follow-the-tail, raw download; abort,
// rerun; keyboard shortcuts (`?` lists them).

import { useEffect, useState, type ReactNode } from 'react';
import type { BuildStep, BuildSummary } from '../../../hub/api/types.js';
import { api, downloadLog } from '../api.js';
import type { BuildModel } from '../build-model.js';
import { useBuildStream } from '../build-stream.js';
import { ErrorNote, NotFound, isNotFound } from '../error-note.js';
import { LogView, lineRangeHash, parseLineRange, type LineRange, type LogViewProps } from '../log-view.js';
import { keyOf, label } from '../pipeline-key.js';
import { Link, navigate, paths } from '../router.js';
import { StatusBadge, duration } from '../status.js';

const TERMINAL = new Set(['succeeded', 'failed', 'errored', 'aborted']);

const SHORTCUTS: [string, string][] = [
  ['f', 'follow the tail on or off'],
  ['t', 'timestamps on or off'],
  ['g', 'go to the top'],
  ['G', 'go to the end and follow'],
  ['d', 'download the raw log'],
  ['?', 'show or hide these shortcuts'],
  ['Esc', 'clear the selected lines'],
];

/** What every step's log shares: the page's display choices and the selected lines; and the download. */
type LogOptions = Omit<LogViewProps, 'stepId' | 'stepName' | 'view'> & {
  download: (step: BuildStep) => void;
};

export function BuildPage({ id }: { id: number }) {
  const [summary, setSummary] = useState<BuildSummary>();
  const [plan, setPlan] = useState<BuildStep>();
  const [error, setError] = useState<unknown>();
  // A link to lines opens at them, not at the tail.
  const [target] = useState(() => parseLineRange(location.hash));
  const [selected, setSelected] = useState<LineRange | null>(target);
  const [follow, setFollow] = useState(target === null);
  const [showTimes, setShowTimes] = useState(false);
  const [help, setHelp] = useState(false);

  const refresh = () => void api.build(id).then(setSummary, setError);
  // The summary (status, waiting reason) changes with the steps, not with their log lines.
  const stream = useBuildStream(id, (e) => e.event !== 'log' && refresh());
  useEffect(() => {
    refresh();
    api.plan(id).then(setPlan, setError);
  }, [id]);

  const status = stream.model.status ?? summary?.status;
  const running = status !== undefined && !TERMINAL.has(status);
  const fileName = (step?: BuildStep) =>
    `${summary?.pipeline ?? 'build'}-${summary?.job ?? ''}-${summary?.name ?? id}${step ? `-${step.name}` : ''}.log`;
  const download = (step?: BuildStep) =>
    void downloadLog(id, step?.id ?? null, fileName(step)).catch(setError);
  const abort = () => void api.abort(id).then(refresh, setError);
  const rerun = () => summary && void api.rerun(summary).then((b) => navigate(paths.build(b.id)), setError);
  const select = (r: LineRange | null) => {
    setSelected(r);
    setFollow(false);
    history.replaceState(null, '', r ? lineRangeHash(r) : location.pathname);
  };

  useEffect(() => {
    if (follow) window.scrollTo(0, document.body.scrollHeight);
  }, [follow, stream.version]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (e.ctrlKey || e.metaKey || e.altKey || t?.closest('input, textarea, select')) return;
      const logs = () => document.querySelectorAll<HTMLElement>('.log');
      if (e.key === 'f') setFollow((f) => !f);
      else if (e.key === 't') setShowTimes((s) => !s);
      else if (e.key === '?') setHelp((h) => !h);
      else if (e.key === 'd') download();
      else if (e.key === 'Escape') select(null);
      else if (e.key === 'g') {
        setFollow(false);
        logs().forEach((l) => (l.scrollTop = 0));
        window.scrollTo(0, 0);
      } else if (e.key === 'G') setFollow(true);
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  const options: LogOptions = {
    version: stream.version,
    onRange: stream.want,
    follow,
    showTimes,
    selected,
    target,
    onSelect: select,
    onScrollUp: () => setFollow(false),
    download,
  };
  const pipelineKey = summary
    ? keyOf({ name: summary.pipeline, instance_vars: summary.pipeline_instance_vars })
    : '';
  if (isNotFound(error)) return <NotFound error={error} />;
  return (
    // Scrolling up, in a log or the page, stops following the tail.
    <main className="page build-page" onWheel={(e) => e.deltaY < 0 && setFollow(false)}>
      <div className="toolbar">
        <h1>
          {summary?.oneOff ? (
            `one-off build #${summary.id}`
          ) : summary ? (
            <>
              <Link to={paths.pipeline(summary.team, pipelineKey)}>{label(pipelineKey)}</Link> /{' '}
              <Link to={paths.job(summary.team, pipelineKey, summary.job)}>{summary.job}</Link> #
              {summary.name}
            </>
          ) : (
            `build ${id}`
          )}
        </h1>
        {status && <StatusBadge status={status} />}
        {summary && <span className="muted">{duration(summary.startedAt, summary.endedAt)}</span>}
        <button onClick={abort} disabled={!running}>
          Abort
        </button>
        <button onClick={rerun} disabled={!summary || running} title="a new build with the same inputs">
          Rerun
        </button>
        <button onClick={() => download()} title="the whole log as text (d)">
          Download log
        </button>
        <label className="follow">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> follow the
          tail
        </label>
        <label className="follow">
          <input type="checkbox" checked={showTimes} onChange={(e) => setShowTimes(e.target.checked)} />{' '}
          timestamps
        </label>
        <button className="link" onClick={() => setHelp((h) => !h)} aria-expanded={help}>
          Shortcuts
        </button>
      </div>
      {help && (
        <dl className="shortcuts" aria-label="keyboard shortcuts">
          {SHORTCUTS.map(([key, what]) => (
            <div key={key}>
              <dt>
                <kbd>{key}</kbd>
              </dt>
              <dd>{what}</dd>
            </div>
          ))}
        </dl>
      )}
      {summary?.waitingReason && running && (
        <p className="waiting" role="status">
          <strong>Waiting:</strong> {summary.waitingReason}
        </p>
      )}
      <ErrorNote error={error ?? stream.error} />
      {plan && <StepNode step={plan} model={stream.model} options={options} />}
    </main>
  );
}

function StepNode(p: { step: BuildStep; model: BuildModel; options: LogOptions }): ReactNode {
  const { step, model, options } = p;
  if (step.name === null)
    return (
      <div className={`step-group kind-${step.kind}`}>
        {step.kind !== 'do' && <div className="group-label">{step.kind.replace('_', ' ')}</div>}
        {step.children.map((c) => (
          <StepNode key={c.id} step={c} model={model} options={options} />
        ))}
      </div>
    );
  const view = model.steps.get(step.id);
  const state = view?.state ?? 'pending';
  return (
    <section className={`step state-${state}`} data-step={step.id} aria-label={`step ${step.name}`}>
      <header>
        <span className={`dot state-${state}`} aria-hidden />
        <span className="step-kind">{step.kind.replace('_', ' ')}:</span>
        <span className="step-name">{step.name}</span>
        <span className="state-text">{state}</span>
        {view?.worker && (
          <span className="muted">
            on {view.worker}
            {view.pool ? ` / ${view.pool}` : ''}
          </span>
        )}
        {view?.startedAt != null && <span className="muted">{duration(view.startedAt, view.endedAt)}</span>}
        {view && (
          <button className="link raw" onClick={() => options.download(step)}>
            raw
          </button>
        )}
      </header>
      {view?.waiting && <p className="waiting">{view.waiting}</p>}
      {view && <LogView stepId={step.id} stepName={step.name} view={view} {...options} />}
    </section>
  );
}
