// HTTP plumbing both simulators share: body reading, listening on a port, the simulation label.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ProxstackError } from "../lib/errors.js";

/** Every simulator response carries this header so nothing mistakes it for the real API. */
export const SIMULATION_HEADER = "x-proxstack-simulation";

/** Largest request body a simulator accepts. */
const MAX_BODY = 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_BODY) throw new ProxstackError("simulation.body-too-large", `request body larger than ${MAX_BODY} bytes`, { kind: "stall", status: 413 });
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Writes a JSON response with the simulation label. */
export function sendJson(res: ServerResponse, status: number, reason: string | undefined, body: unknown, contentType = "application/json;charset=UTF-8"): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.statusCode = status;
  if (reason !== undefined) res.statusMessage = reason;
  res.setHeader(SIMULATION_HEADER, "true");
  if (text) res.setHeader("content-type", contentType);
  res.setHeader("content-length", Buffer.byteLength(text));
  res.end(text);
}

/**
 * Idle keep-alive connections: a simulator tells clients 5 s (`Keep-Alive: timeout=5`, Node's default, which Node's
 * agent and undici then use, minus undici's 1 s margin) but keeps them open {@link KEEP_ALIVE_MS}, so a client always
 * drops an idle socket first and never sends on one the simulator is closing at that moment (ECONNRESET). With
 * Node's defaults both sides time out at about 5 s and race, most of all in one busy process (tests, `serve`).
 */
export const KEEP_ALIVE_MS = 30_000;
export const ADVERTISED_KEEP_ALIVE_S = 5;

/** Listens on host:port (0 = a free port) and resolves with the bound port. */
export async function listen(server: Server, host: string, port: number): Promise<number> {
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.prependListener("request", (_req: IncomingMessage, res: ServerResponse) => res.setHeader("Keep-Alive", `timeout=${ADVERTISED_KEEP_ALIVE_S}`));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Closes a server, ending idle keep-alive sockets so close() does not hang. */
export async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/** An HTTP reason phrase must be one line of visible characters. */
export function reasonPhrase(message: string): string {
  return (message.split("\n")[0] ?? "").replace(/[^\t\x20-\x7e]/g, "?");
}
