// GET /api/events as a fetch stream (EventSource cannot send the bearer token): each engine event invalidates the
// queries it changes, and steps are kept for the provisioning list. Reconnects with a back-off while signed in.
import type { QueryClient } from "@tanstack/react-query";
import { useSyncExternalStore } from "react";
import type { Session } from "./api.ts";
import { foldSteps, parseSse, type Step } from "./logic.ts";

let steps: Step[] = [];
const stepListeners = new Set<() => void>();
let connected = false;

function setSteps(next: Step[]): void {
  steps = next;
  for (const l of stepListeners) l();
}

function setConnected(v: boolean): void {
  connected = v;
  for (const l of stepListeners) l();
}

export function useSteps(): Step[] {
  return useSyncExternalStore(
    (l) => (stepListeners.add(l), () => stepListeners.delete(l)),
    () => steps,
  );
}

export function useLive(): boolean {
  return useSyncExternalStore(
    (l) => (stepListeners.add(l), () => stepListeners.delete(l)),
    () => connected,
  );
}

/** Starts the stream; the returned function stops it. */
export function startEvents(session: Session, queries: QueryClient): () => void {
  let stopped = false;
  let abort: AbortController | undefined;
  const loop = async () => {
    let delay = 1000;
    while (!stopped) {
      const token = await session.token().catch(() => undefined);
      if (!token) return;
      abort = new AbortController();
      try {
        const res = await fetch("/api/events", { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" }, signal: abort.signal });
        if (res.ok && res.body) {
          setConnected(true);
          delay = 1000;
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buf = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            const { messages, rest } = parseSse(buf + value);
            buf = rest;
            for (const m of messages) handle(m.event, JSON.parse(m.data) as Record<string, unknown>);
          }
        } else if (res.status === 401) {
          await session.refresh();
        }
      } catch {
        // A dropped connection: try again below.
      }
      setConnected(false);
      if (stopped) return;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15_000);
    }
  };
  const handle = (event: string, data: Record<string, unknown>) => {
    if (event === "step" || event === "run") setSteps(foldSteps(steps, { event, data }));
    if (event === "instance" || event === "stack" || (event === "run" && data.state !== "running")) {
      void queries.invalidateQueries({ queryKey: ["instances"] });
      void queries.invalidateQueries({ queryKey: ["points"] });
    }
    if (event === "instance" && typeof data.id === "string") void queries.invalidateQueries({ queryKey: ["instance", data.id] });
    if (event === "end") stopped = true;
  };
  void loop();
  return () => {
    stopped = true;
    abort?.abort();
    setConnected(false);
  };
}
