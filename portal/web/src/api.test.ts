// The session: tokens refreshed silently before expiry and on a 401 (one refresh for many callers), errors with their fields.
import { describe, expect, it } from "vitest";
import { ApiError, Session, fieldError, formError } from "./api.ts";

function memoryStorage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k), m };
}

const user = { id: 1, email: "dana@example.com", name: "Dana", role: "user" as const, verified: true, stack: "dana", createdAt: "2026-11-30T10:00:00Z" };
const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** A fake API: login hands out a0/r0, each refresh the next pair; /api/me accepts only the newest access token. */
function fakeApi() {
  let n = 0;
  const calls: string[] = [];
  const fetchImpl = (async (path: string, init?: RequestInit) => {
    const body = init?.body ? (JSON.parse(String(init.body)) as Record<string, string>) : {};
    const auth = (init?.headers as Record<string, string> | undefined)?.authorization;
    calls.push(`${init?.method ?? "GET"} ${path}${auth ? ` ${auth}` : ""}`);
    if (path === "/api/auth/login")
      return body.password === "right"
        ? json(200, { accessToken: "a0", refreshToken: "r0", expiresIn: 900, user })
        : json(401, { error: { code: "invalid-credentials", message: "the e-mail or password is wrong" } });
    if (path === "/api/auth/refresh") {
      if (body.refreshToken !== `r${n}`) return json(401, { error: { code: "invalid-refresh-token", message: "log in again" } });
      n++;
      await new Promise((r) => setTimeout(r, 5));
      return json(200, { accessToken: `a${n}`, refreshToken: `r${n}`, expiresIn: 900, user });
    }
    if (path === "/api/me") return auth === `Bearer a${n}` ? json(200, { ok: n }) : json(401, { error: { code: "invalid-token", message: "expired" } });
    if (path === "/api/bad")
      return json(400, { error: { code: "invalid-request", message: "the request body is invalid: name must be…", fields: { name: "must be lower-case" } } });
    return json(404, {});
  }) as typeof fetch;
  return { fetchImpl, calls, rotate: () => void n++ };
}

describe("Session", () => {
  it("refreshes before the access token expires, once for concurrent callers", async () => {
    let now = 0;
    const api = fakeApi();
    const s = new Session(memoryStorage(), api.fetchImpl, () => now);
    await s.login("dana@example.com", "right");
    expect(await s.request("GET", "/api/me")).toEqual({ ok: 0 });
    now = 841_000; // 14 min 1 s: inside the last minute of a 15-minute token
    expect(await Promise.all([s.request("GET", "/api/me"), s.request("GET", "/api/me"), s.request("GET", "/api/me")])).toEqual([
      { ok: 1 },
      { ok: 1 },
      { ok: 1 },
    ]);
    expect(api.calls.filter((c) => c.startsWith("POST /api/auth/refresh"))).toHaveLength(1);
  });

  it("on a 401 refreshes and retries once; a refused refresh signs out", async () => {
    const api = fakeApi();
    const storage = memoryStorage();
    const s = new Session(storage, api.fetchImpl, () => 0);
    await s.login("dana@example.com", "right");
    api.rotate(); // the server no longer accepts a0 (and expects r1)
    storage.setItem("proxstack.refresh", "r1");
    expect(await s.request("GET", "/api/me")).toEqual({ ok: 2 });
    storage.setItem("proxstack.refresh", "stolen");
    api.rotate();
    const err = await s.request("GET", "/api/me").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(s.user).toBeUndefined();
    expect(storage.m.has("proxstack.refresh")).toBe(false);
  });

  it("resumes a session from the stored refresh token and reports field errors where they belong", async () => {
    const api = fakeApi();
    const storage = memoryStorage();
    storage.setItem("proxstack.refresh", "r0");
    const s = new Session(storage, api.fetchImpl, () => 0);
    expect(await s.resume()).toEqual(user);
    const wrong = await s.login("dana@example.com", "wrong").catch((e: unknown) => e);
    expect([(wrong as ApiError).status, (wrong as ApiError).code, formError(wrong, ["email", "password"])]).toEqual([
      401,
      "invalid-credentials",
      "the e-mail or password is wrong",
    ]);
    expect(s.user).toEqual(user); // a failed sign-in attempt does not end the current session
    const bad = await s.request("POST", "/api/bad", {}).catch((e: unknown) => e);
    expect([fieldError(bad, "name"), formError(bad, ["name"]), formError(bad, ["email"])]).toEqual([
      "must be lower-case",
      undefined,
      "the request body is invalid: name must be…",
    ]);
  });
});
