// WebSocket /ws/terminal?ticket=…: a single-use ticket becomes a shell on the caller's instance; per-user session cap and idle timeout.
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { z } from "zod";
import { activeBan } from "./auth-guard.js";
import type { PortalContext } from "./context.js";
import type { TicketStore } from "./terminal-tickets.js";

const ClientMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("input"), data: z.string().max(65_536) }).strict(),
  z.object({ type: z.literal("resize"), cols: z.number().int().min(1).max(1000), rows: z.number().int().min(1).max(1000) }).strict(),
]);

export interface TerminalServer {
  /** Active sessions per account id. */
  sessions(accountId: number): number;
  close(): void;
}

function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? "Unauthorized" : status === 429 ? "Too Many Requests" : status === 404 ? "Not Found" : "Service Unavailable"}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function attachTerminal(server: Server, ctx: PortalContext, tickets: TicketStore): TerminalServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 128 * 1024 });
  const active = new Map<number, number>();
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://portal");
    if (url.pathname !== "/ws/terminal") return refuse(socket, 404, "route-not-found", "no WebSocket here; use /ws/terminal?ticket=…");
    if (!ctx.terminal) return refuse(socket, 503, "terminal-unavailable", "the web terminal is not available on this installation");
    const t = tickets.take(url.searchParams.get("ticket") ?? "");
    if (!t) return refuse(socket, 401, "invalid-ticket", "the ticket is unknown, used or expired; ask for a new one (POST /api/instances/:id/terminal)");
    const a = ctx.accounts.byId(t.accountId);
    if (!a || activeBan(a, ctx.clock.now())) return refuse(socket, 401, "invalid-ticket", "the account behind this ticket can no longer open terminals");
    if ((active.get(a.id) ?? 0) >= ctx.options.terminalSessionsPerUser) {
      return refuse(socket, 429, "too-many-terminals", `at most ${ctx.options.terminalSessionsPerUser} terminals at once; close one first`);
    }
    active.set(a.id, (active.get(a.id) ?? 0) + 1);
    wss.handleUpgrade(req, socket, head, (ws) => void run(ws, a.id, t.stack, t.instance));
  };
  const release = (id: number) => {
    const n = (active.get(id) ?? 1) - 1;
    if (n <= 0) active.delete(id);
    else active.set(id, n);
  };

  async function run(ws: WebSocket, accountId: number, stack: string, instance: string): Promise<void> {
    const abort = new AbortController();
    let idle: NodeJS.Timeout | undefined;
    let released = false;
    const done = () => {
      if (!released) {
        released = true;
        release(accountId);
      }
      clearTimeout(idle);
    };
    ws.on("close", () => {
      abort.abort();
      done();
    });
    try {
      const session = await ctx.terminal!.open({ stack, instance, cols: 80, rows: 24, signal: abort.signal });
      const touch = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          ws.send(JSON.stringify({ type: "error", message: "closed after being idle" }));
          session.close();
          ws.close(4000, "idle");
        }, ctx.options.terminalIdleMs);
      };
      touch();
      ws.send(JSON.stringify({ type: "connected" }));
      session.onData((chunk) => ws.send(JSON.stringify({ type: "data", data: chunk.toString("utf8") })));
      ws.on("message", (raw) => {
        touch();
        let parsed: unknown;
        try {
          parsed = JSON.parse(String(raw));
        } catch {
          parsed = undefined;
        }
        const m = ClientMessage.safeParse(parsed);
        if (!m.success) return void ws.send(JSON.stringify({ type: "error", message: "messages are {type:'input',data} or {type:'resize',cols,rows}" }));
        if (m.data.type === "input") session.write(m.data.data);
        else session.resize(m.data.cols, m.data.rows);
      });
      ws.on("close", () => session.close());
      void session.closed.then(({ exitCode }) => {
        if (ws.readyState === ws.OPEN) {
          ws.send(JSON.stringify({ type: "disconnect", exitCode }));
          ws.close(1000, "shell ended");
        }
      });
    } catch (err) {
      ctx.log.warn({ err, stack, instance }, "terminal failed to open");
      if (ws.readyState === ws.OPEN) {
        ws.send(JSON.stringify({ type: "error", message: "could not open a shell on the instance; is it running?" }));
        ws.close(1011, "open failed");
      }
      done();
    }
  }

  server.on("upgrade", onUpgrade);
  return {
    sessions: (id) => active.get(id) ?? 0,
    close() {
      server.off("upgrade", onUpgrade);
      for (const c of wss.clients) c.terminate();
      wss.close();
    },
  };
}
