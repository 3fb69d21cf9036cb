// Reads a DIY (file) backend after a crash: stack locks with their owner process, and checkpoints with pending operations.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";

/** A lock file `.pulumi/locks/organization/<project>/<stack>/<id>.json` and who wrote it. */
export interface DiyLock {
  stack: string;
  file: string;
  pid: number;
  hostname: string;
  username: string;
  timestamp: string;
}

/** One interrupted operation recorded in a checkpoint (`creating`, `updating`, `deleting`, …). */
export interface PendingOperation {
  kind: string;
  urn: string;
  type: string;
}

export interface DiyCheckpoint {
  stack: string;
  file: string;
  pending: PendingOperation[];
  /** The latest deployment as stored: secrets stay ENCRYPTED (ciphertext), never decrypted here. */
  latest: Record<string, unknown>;
}

/** How the runner decides a lock is stale: written on this host by a process that no longer exists. */
export interface ProcessTable {
  hostname(): string;
  isAlive(pid: number): boolean;
}

export const systemProcessTable = (hostname: () => string): ProcessTable => ({
  hostname,
  isAlive(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      // EPERM: the process exists but belongs to someone else.
      return (err as NodeJS.ErrnoException).code === "EPERM";
    }
  },
});

/** Every lock file of the project (project-scoped layout, and the legacy layout of CLIs before 3.61). */
export function listDiyLocks(backendDir: string, project: string): DiyLock[] {
  const roots = [path.join(backendDir, ".pulumi", "locks", "organization", project), path.join(backendDir, ".pulumi", "locks")];
  const locks: DiyLock[] = [];
  for (const root of roots) {
    for (const stack of subdirs(root)) {
      if (root.endsWith("locks") && stack === "organization") continue;
      const dir = path.join(root, stack);
      for (const f of readdirSync(dir).filter((n) => n.endsWith(".json"))) {
        const file = path.join(dir, f);
        const content = parseJson(readFileSync(file, "utf8")) as Partial<Record<string, unknown>> | undefined;
        locks.push({
          stack,
          file,
          pid: typeof content?.pid === "number" ? content.pid : -1,
          hostname: typeof content?.hostname === "string" ? content.hostname : "",
          username: typeof content?.username === "string" ? content.username : "",
          timestamp: typeof content?.timestamp === "string" ? content.timestamp : "",
        });
      }
    }
  }
  return locks;
}

/** Every stack checkpoint of the project, with its pending operations. */
export function readDiyCheckpoints(backendDir: string, project: string): DiyCheckpoint[] {
  const dir = path.join(backendDir, ".pulumi", "stacks", project);
  if (!existsSync(dir)) return [];
  const out: DiyCheckpoint[] = [];
  for (const f of readdirSync(dir)) {
    const m = /^(.+)\.json(\.gz)?$/.exec(f);
    if (!m?.[1]) continue;
    const file = path.join(dir, f);
    const raw = readFileSync(file);
    const doc = parseJson((m[2] ? gunzipSync(raw) : raw).toString("utf8")) as { checkpoint?: { latest?: Record<string, unknown> } } | undefined;
    const latest = doc?.checkpoint?.latest;
    if (!latest) continue;
    out.push({ stack: m[1], file, pending: pendingOf(latest), latest });
  }
  return out;
}

export function pendingOf(deployment: Record<string, unknown>): PendingOperation[] {
  const ops = Array.isArray(deployment.pending_operations) ? (deployment.pending_operations as unknown[]) : [];
  return ops.map((o) => {
    const op = (o ?? {}) as { type?: unknown; resource?: { urn?: unknown; type?: unknown } };
    return { kind: String(op.type ?? "unknown"), urn: String(op.resource?.urn ?? ""), type: String(op.resource?.type ?? "") };
  });
}

function subdirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
