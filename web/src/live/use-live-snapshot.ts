/**
 * A view's state: a REST snapshot plus the pushed messages of its topic, applied by a pure reducer.
 *
 * - The topic is subscribed before the snapshot is requested (and, on a fresh page, only once the
 *   socket said hello), so no change can fall between the two.
 * - Messages arriving while a snapshot loads are kept and applied on top of it, in order: they are
 *   snapshots of state themselves, so the result converges to the server's state.
 * - `resync` (or a reconnect that the server cannot replay) loads the snapshot again, once.
 * - Nothing here fetches because of a message: a message only ever changes state in memory.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ServerMessage } from '../../../src/wire/live.js';
import { isAbort } from '../api/http.js';
import { live } from './socket.js';

export interface LiveSnapshot<S> {
  data: S | null;
  error: unknown;
  loading: boolean;
  /** Load the snapshot again (after a user's action that changes more than the topic reports). */
  reload(): void;
  /** Change the loaded state in place (e.g. append the next page). */
  mutate(fn: (s: S) => S): void;
}

export interface LiveSnapshotOptions<S> {
  /** The topic to follow, or null for a snapshot without live updates. */
  topic: string | null;
  load: (signal: AbortSignal) => Promise<S>;
  reduce: (state: S, messages: ServerMessage[]) => S;
  /** A new key (e.g. other filters) drops the state and loads anew. */
  key: string;
}

export function useLiveSnapshot<S>(opts: LiveSnapshotOptions<S>): LiveSnapshot<S> {
  const [data, setData] = useState<S | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const optsRef = useRef(opts);
  optsRef.current = opts;
  const api = useRef<{ reload(): void; mutate(fn: (s: S) => S): void }>({
    reload: () => undefined,
    mutate: () => undefined,
  });

  useEffect(() => {
    let disposed = false;
    let current: S | null = null;
    /** Non-null while a snapshot loads: messages to apply on top of it. */
    let buffer: ServerMessage[] | null = [];
    let abort: AbortController | null = null;
    let generation = 0;

    setData(null);
    setError(null);
    setLoading(true);

    const publish = (s: S): void => {
      current = s;
      setData(s);
    };

    const load = async (): Promise<void> => {
      abort?.abort();
      const ctrl = new AbortController();
      abort = ctrl;
      const gen = ++generation;
      buffer = [];
      setLoading(true);
      try {
        const snap = await optsRef.current.load(ctrl.signal);
        if (disposed || gen !== generation) return;
        const pending = buffer ?? [];
        buffer = null;
        publish(pending.length > 0 ? optsRef.current.reduce(snap, pending) : snap);
        setError(null);
        setLoading(false);
      } catch (err) {
        if (disposed || gen !== generation || isAbort(err)) return;
        const pending = buffer ?? [];
        buffer = null;
        if (current !== null && pending.length > 0) publish(optsRef.current.reduce(current, pending));
        setError(err);
        setLoading(false);
      }
    };

    const topic = optsRef.current.topic;
    const unsubscribe = topic
      ? live.subscribe(topic, {
          onMessages(messages) {
            if (buffer !== null) buffer.push(...messages);
            else if (current !== null) publish(optsRef.current.reduce(current, messages));
          },
          onResync() {
            void load();
          },
        })
      : () => undefined;

    api.current = {
      reload: () => void load(),
      mutate: (fn) => {
        if (current !== null) publish(fn(current));
      },
    };

    if (topic) {
      void live.whenReady().then(() => {
        if (!disposed) void load();
      });
    } else {
      void load();
    }

    return () => {
      disposed = true;
      abort?.abort();
      unsubscribe();
    };
    // `key` and `topic` name everything the load depends on.
  }, [opts.key, opts.topic]);

  const reload = useCallback(() => api.current.reload(), []);
  const mutate = useCallback((fn: (s: S) => S) => api.current.mutate(fn), []);
  return { data, error, loading, reload, mutate };
}
