// Test support: a tiny JSON client for a listening portal, and reading codes from the outbox.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface Answer {
  status: number;
  body: any;
  headers: Headers;
  text: string;
}

export function client(base: string) {
  return async (
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
  ): Promise<Answer> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined) headers["content-type"] ??= "application/json";
    const res = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, headers: res.headers, text };
  };
}

/** The newest 6-digit code mailed to `to` (from the .eml files of the outbox). */
export function codeFromOutbox(outbox: string, to: string): string {
  const files = readdirSync(outbox)
    .filter((f) => f.endsWith(".eml"))
    .sort();
  for (const f of files.reverse()) {
    const text = readFileSync(join(outbox, f), "utf8");
    if (!text.includes(`To: ${to}\r\n`)) continue;
    const m = /verification code is (\d{6})/.exec(text);
    if (m?.[1]) return m[1];
  }
  throw new Error(`no code mailed to ${to}`);
}
