// A build: its step tree with each step's state, agent and pool, and each step's log streaming live
// (ANSI colours, follow-the-tail); abort.

import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { BuildStep, BuildSummary } from '../../../hub/api/types.js';
import { ansiSegments, type AnsiState } from '../ansi.js';
import { api } from '../api.js';
import { applyEvent, emptyModel, type BuildModel, type StepView } from '../build-model.js';
import { followBuildEvents } from '../events.js';
import { Link, paths } from '../router.js';
import { StatusBadge, duration } from '../status.js';

const TERMINAL = new Set(['succeeded', 'failed', 'errored', 'aborted']);

export function BuildPage({ id }: { id: number }) {
  const [summary, setSummary] = useState<BuildSummary>();
  const [plan, setPlan] = useState<BuildStep>();
  const [error, setError] = useState<string>();
  const model = useRef<BuildModel>(emptyModel());
  const [, setVersion] = useState(0);
  const [follow, setFollow] = useState(true);
  const logEnd = useRef<HTMLDivElement>(null);

  useEffect(() => {
    model.current = emptyModel();
    const stop = new AbortController();
    let frame = 0;
    // Events arrive in bursts; render at most once per frame.
    const changed = () => {
      frame ||= requestAnimationFrame(() => {
        frame = 0;
        setVersion((v) => v + 1);
      });
    };
    const refresh = () => api.build(id).then(setSummary, (e: unknown) => setError(String(e)));
    void refresh();
    api.plan(id).then(setPlan, (e: unknown) => setError(String(e)));
    followBuildEvents(
      id,
      (e) => {
        applyEvent(model.current, e);
        // The summary (status, waiting reason) changes with the steps, not with their log lines.
        if (e.event !== 'log') void refresh();
        changed();
      },
      stop.signal,
    ).catch((e: unknown) => {
      if (!stop.signal.aborted) setError(String(e));
    });
    return () => {
      stop.abort();
      cancelAnimationFrame(frame);
    };
  }, [id]);

  useEffect(() => {
    if (follow) logEnd.current?.scrollIntoView({ block: 'end' });
  });

  const status = model.current.status ?? summary?.status;
  const running = status !== undefined && !TERMINAL.has(status);
  const abort = () => void api.abort(id).catch((e: unknown) => setError(String(e)));

  return (
    <main className="page build-page">
      <div className="toolbar">
        <h1>
          {summary?.oneOff ? (
            `one-off build #${summary.id}`
          ) : summary ? (
            <>
              <Link to={paths.pipeline(summary.team, summary.pipeline)}>{summary.pipeline}</Link> /{' '}
              <Link to={paths.job(summary.team, summary.pipeline, summary.job)}>{summary.job}</Link> #
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
        <label className="follow">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> follow the
          tail
        </label>
      </div>
      {summary?.waitingReason && running && (
        <p className="waiting" role="status">
          <strong>Waiting:</strong> {summary.waitingReason}
        </p>
      )}
      {error && <p className="error">{error}</p>}
      {plan && <StepNode step={plan} model={model.current} depth={0} />}
      <div ref={logEnd} />
    </main>
  );
}

function StepNode({ step, model, depth }: { step: BuildStep; model: BuildModel; depth: number }): ReactNode {
  if (step.name === null)
    return (
      <div className={`step-group kind-${step.kind}`}>
        {step.kind !== 'do' && <div className="group-label">{step.kind.replace('_', ' ')}</div>}
        {step.children.map((c) => (
          <StepNode key={c.id} step={c} model={model} depth={depth + 1} />
        ))}
      </div>
    );
  const view = model.steps.get(step.id);
  return (
    <section
      className={`step state-${view?.state ?? 'pending'}`}
      data-step={step.id}
      aria-label={`step ${step.name}`}
    >
      <header>
        <span className={`dot state-${view?.state ?? 'pending'}`} aria-hidden />
        <span className="step-kind">{step.kind.replace('_', ' ')}:</span>
        <span className="step-name">{step.name}</span>
        <span className="state-text">{view?.state ?? 'pending'}</span>
        {view?.worker && (
          <span className="muted">
            on {view.worker}
            {view.pool ? ` / ${view.pool}` : ''}
          </span>
        )}
        {view?.startedAt != null && <span className="muted">{duration(view.startedAt, view.endedAt)}</span>}
      </header>
      {view?.waiting && <p className="waiting">{view.waiting}</p>}
      {view && <LogLines view={view} />}
    </section>
  );
}

function LogLines({ view }: { view: StepView }) {
  const lines = view.lines.at(-1) === '' ? view.lines.slice(0, -1) : view.lines;
  if (lines.length === 0) return null;
  const state: AnsiState = { fg: null, bold: false };
  return (
    <pre className="log">
      {lines.map((line, i) => (
        <div className="log-line" key={i}>
          <span className="line-no">{i + 1}</span>
          <span>
            {ansiSegments(line, state).map((s, j) => (
              <span key={j} className={s.className || undefined}>
                {s.text}
              </span>
            ))}
          </span>
        </div>
      ))}
    </pre>
  );
}
