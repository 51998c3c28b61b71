// Loads data now and again every few seconds while the page is shown (the list endpoints have no stream).

import { useCallback, useEffect, useState } from 'react';

export interface Polled<T> {
  data: T | undefined;
  error: Error | undefined;
  reload: () => void;
}

export function usePoll<T>(load: () => Promise<T>, deps: unknown[], everyMs = 3000): Polled<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [tick, setTick] = useState(0);
  const stableLoad = useCallback(load, deps);
  useEffect(() => {
    let live = true;
    const run = () =>
      stableLoad().then(
        (d) => live && (setData(d), setError(undefined)),
        (e: unknown) => live && setError(e instanceof Error ? e : new Error(String(e))),
      );
    void run();
    const timer = setInterval(() => void run(), everyMs);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [stableLoad, everyMs, tick]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}
