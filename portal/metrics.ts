// Prometheus metrics of the portal and the engine: request counts and latencies, queue depth, runs by outcome.
import type { RequestHandler } from "express";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { EngineView } from "./engine-view.js";

export interface PortalMetrics {
  registry: Registry;
  middleware: RequestHandler;
  /** Stops listening to the engine. */
  close(): void;
}

export function createMetrics(engine: EngineView, opts: { defaultMetrics?: boolean } = {}): PortalMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: "proxstack_http_requests_total",
    help: "HTTP requests by method, route and status",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "proxstack_http_request_duration_seconds",
    help: "HTTP request latency",
    labelNames: ["method", "route"],
    registers: [registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  new Gauge({
    name: "proxstack_engine_queue_depth",
    help: "Stacks queued, running and delayed in the engine",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const s = engine.queueStats();
      this.set({ state: "queued" }, s.queued);
      this.set({ state: "running" }, s.running);
      this.set({ state: "delayed" }, s.delayed);
    },
  });
  const runs = new Counter({ name: "proxstack_engine_runs_total", help: "Engine runs finished, by outcome", labelNames: ["outcome"], registers: [registry] });
  const unsubscribe = engine.subscribe((e) => {
    if (e.type === "run" && (e.run.state === "succeeded" || e.run.state === "failed")) runs.inc({ outcome: e.run.state });
  });
  // The labelled children per label set, looked up once (prom-client would hash the label object on every call).
  const counters = new Map<string, ReturnType<typeof requests.labels>>();
  const timers = new Map<string, ReturnType<typeof latency.labels>>();
  const middleware: RequestHandler = (req, res, next) => {
    const start = performance.now();
    res.once("finish", () => {
      // The matched route pattern, never the raw path (ids would explode the label set).
      const own = res.locals.routeLabel as string | undefined;
      const routePath = (req.route as { path?: string } | undefined)?.path;
      const label = own ?? (routePath ? `${req.baseUrl}${routePath}` : "unmatched");
      const status = res.statusCode;
      const ck = `${req.method} ${status} ${label}`;
      let counter = counters.get(ck);
      if (!counter) counters.set(ck, (counter = requests.labels({ method: req.method, route: label, status: String(status) })));
      counter.inc();
      const tk = `${req.method} ${label}`;
      let timer = timers.get(tk);
      if (!timer) timers.set(tk, (timer = latency.labels({ method: req.method, route: label })));
      timer.observe((performance.now() - start) / 1000);
    });
    next();
  };
  return { registry, middleware, close: unsubscribe };
}
