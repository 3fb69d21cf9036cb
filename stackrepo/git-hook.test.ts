// The git webhook over HTTP: GitHub's signature format verified in constant time, 401 with the error envelope otherwise.
import { createHmac } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGitHookRouter, GIT_HOOK_PATH, verifySignature } from "./git-hook.js";

const SECRET = "s3cret-webhook-key";
let server: Server;
let url: string;
let pushes = 0;

beforeAll(async () => {
  const app = express();
  app.use(createGitHookRouter({ secret: SECRET, onPush: () => void pushes++ }));
  app.use(express.json());
  server = app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${GIT_HOOK_PATH}`;
});
afterAll(() => new Promise((r) => server.close(r)));

const sign = (body: string, secret = SECRET) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
const post = (body: string, headers: Record<string, string>) =>
  fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
const BODY = JSON.stringify({ ref: "refs/heads/main", after: "0".repeat(40) });

describe("POST /api/hooks/git", () => {
  it("a correctly signed push triggers a sync: 202", async () => {
    const before = pushes;
    const res = await post(BODY, { "x-hub-signature-256": sign(BODY), "x-github-event": "push" });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: true });
    expect(pushes).toBe(before + 1);
  });

  it.each([
    ["no signature", {}],
    ["the wrong secret", { "x-hub-signature-256": sign(BODY, "other") }],
    ["a signature of other bytes", { "x-hub-signature-256": sign(BODY + " ") }],
    ["sha1 format", { "x-hub-signature-256": `sha1=${createHmac("sha1", SECRET).update(BODY).digest("hex")}` }],
    ["truncated hex", { "x-hub-signature-256": sign(BODY).slice(0, 40) }],
  ])("%s: 401 with the error envelope, no sync", async (_, headers) => {
    const before = pushes;
    const res = await post(BODY, headers as Record<string, string>);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: "bad-signature", message: expect.stringContaining("X-Hub-Signature-256") as string } });
    expect(pushes).toBe(before);
  });

  it("ping answers pong and other events are ignored, neither syncs", async () => {
    const before = pushes;
    expect(await (await post(BODY, { "x-hub-signature-256": sign(BODY), "x-github-event": "ping" })).json()).toEqual({ pong: true });
    expect(await (await post(BODY, { "x-hub-signature-256": sign(BODY), "x-github-event": "issues" })).json()).toEqual({ ignored: "issues" });
    expect(pushes).toBe(before);
  });

  it("a body over 1 MB: 413 in the envelope", async () => {
    const big = "x".repeat(1024 * 1024 + 1);
    const res = await post(big, { "x-hub-signature-256": sign(big) });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: { code: "body-too-large", message: "the webhook body is larger than 1mb" } });
  });

  it("verifySignature accepts upper-case hex and refuses an empty header", () => {
    const body = Buffer.from("x");
    expect(verifySignature(SECRET, body, sign("x").toUpperCase().replace("SHA256=", "sha256="))).toBe(true);
    expect(verifySignature(SECRET, body, "")).toBe(false);
    expect(() => createGitHookRouter({ secret: "", onPush: () => undefined })).toThrow(/webhook secret is empty/);
  });
});
