// GET /api/events: Server-Sent Events of the engine's progress, for the caller's stack only, in plain words.
import { Router } from "express";
import { REASONS } from "../../engine/status/vocabulary.js";
import { activeBan, caller, requireUser } from "../auth-guard.js";
import type { PortalContext } from "../context.js";
import type { StatusEvent } from "../engine-view.js";
import { route, type RouteRegistry } from "../routing.js";

/** One engine event as the user sees it, or undefined when it is not theirs. */
export function userEvent(stack: string, e: StatusEvent): { event: string; data: Record<string, unknown> } | undefined {
  switch (e.type) {
    case "stack":
      if (e.stack.name !== stack) return undefined;
      return {
        event: "stack",
        data: { stack, condition: e.stack.condition, reason: e.stack.reason, text: REASONS[e.stack.reason].doc, message: e.stack.message },
      };
    case "instance":
      if (e.instance.stack !== stack) return undefined;
      return {
        event: "instance",
        data: { id: `${stack}.${e.instance.name}`, state: e.instance.state, power: e.instance.power, vmid: e.instance.vmid ?? null, ip: e.instance.ip ?? null },
      };
    case "run":
      if (e.run.stack !== stack) return undefined;
      return {
        event: "run",
        data: { stack, run: e.run.id, action: e.run.action, state: e.run.state, ...(e.run.errorMessage ? { error: e.run.errorMessage } : {}) },
      };
    case "run-event": {
      if (e.stack !== stack) return undefined;
      const ev = e.event;
      const resource = ev.urn ? ev.urn.split("::").at(-1) : undefined;
      const text =
        ev.type === "resource-pre"
          ? `${ev.op ?? "step"} ${resource ?? ""}`.trim()
          : ev.type === "resource-outputs"
            ? `done: ${ev.op ?? "step"} ${resource ?? ""}`.trim()
            : ev.type === "resource-failed"
              ? `failed: ${resource ?? ""}`.trim()
              : (ev.message ?? ev.type);
      return { event: "step", data: { stack, run: e.runId, type: ev.type, text, ...(ev.severity ? { severity: ev.severity } : {}) } };
    }
  }
}

export function eventRoutes(ctx: PortalContext, registry: RouteRegistry): Router {
  const r = Router();
  route(
    r,
    registry,
    {
      method: "get",
      path: "/",
      tag: "events",
      auth: "user",
      summary: "Live progress of your stack (text/event-stream)",
      response: { status: 200, contentType: "text/event-stream" },
      errors: [401],
    },
    [requireUser(ctx)],
    (req, res) => {
      const { account } = caller(req);
      const stack = account.stack ?? "";
      res.writeHead(200, {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-store",
        Connection: "keep-alive",
        "X-Accel-Buffering": "no",
      });
      res.write(": proxstack events\n\n");
      let seq = 0;
      const send = (ev: string, data: unknown) => res.write(`id: ${++seq}\nevent: ${ev}\ndata: ${JSON.stringify(data)}\n\n`);
      const current = ctx.engine.getStack(stack);
      if (current) send("stack", { stack, condition: current.condition, reason: current.reason, text: REASONS[current.reason].doc, message: current.message });
      const stop = () => {
        unsubscribe();
        clearInterval(beat);
        res.end();
      };
      const unsubscribe = ctx.engine.subscribe((e) => {
        const out = userEvent(stack, e);
        if (out) send(out.event, out.data);
      });
      // The heartbeat also re-checks the account: a ban or a deleted session ends the stream.
      const beat = setInterval(() => {
        const a = ctx.accounts.byId(account.id);
        if (!a || activeBan(a, ctx.clock.now()) || !ctx.sessions.isLive(caller(req).session, a.id)) {
          send("end", { reason: "session ended" });
          stop();
          return;
        }
        res.write(": keep-alive\n\n");
      }, ctx.options.heartbeatMs);
      req.on("close", () => {
        unsubscribe();
        clearInterval(beat);
      });
    },
  );
  return r;
}
