// The admin's git interface in-process over a real stacks repository: the last sync's status, and a stack file's rollback
// (check report first; a new commit on confirm; refused with the report when it would destroy a container).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { syncStackRepo } from "../stackrepo/sync.js";
import { startHarness, type Harness } from "./testing/harness.js";

let h: Harness;
let alice: Awaited<ReturnType<Harness["signUp"]>>;
let admin: Awaited<ReturnType<Harness["signUp"]>>;

beforeAll(async () => {
  h = await startHarness();
  alice = await h.signUp("alice@example.com", "Alice");
  admin = await h.signUp("root@example.com", "Root");
  h.db.prepare("UPDATE accounts SET role = 'admin' WHERE id = ?").run(admin.id);
}, 60_000);

afterAll(async () => {
  await h?.close();
});

const aliceFile = () => path.join(h.stacksDir, "alice.yaml");
const commitFile = (text: string, message: string) => {
  fs.writeFileSync(aliceFile(), text);
  h.git("commit", "-q", "-am", message);
  return h.git("rev-parse", "HEAD").trim();
};

describe("admin: git interface", () => {
  it("is for admins only", async () => {
    expect((await h.api("GET", "/api/admin/sync", { token: alice.token })).status).toBe(403);
    const r = await h.api("POST", "/api/admin/stacks/alice/rollback", { token: alice.token, body: { to: "HEAD", confirm: true } });
    expect([r.status, r.body.error.code]).toEqual([403, "forbidden"]);
  });

  it("the last sync's status: null before any, then what the sync wrote", async () => {
    expect((await h.api("GET", "/api/admin/sync", { token: admin.token })).body).toEqual({ sync: null });
    await syncStackRepo({ dir: h.stacksDir, dataDir: h.root, clock: h.clock });
    const at = h.clock.now().toISOString();
    expect((await h.api("GET", "/api/admin/sync", { token: admin.token })).body).toEqual({ sync: { state: "no-remote", at, lastSuccessAt: at } });
  });

  it("a rollback answers the check report, commits only on confirm, and refuses a destroy with the report", async () => {
    const original = fs.readFileSync(aliceFile(), "utf8");
    const edited = commitFile(`${original}# a note\n`, "note");
    const url = "/api/admin/stacks/alice/rollback";

    const plan = await h.api("POST", url, { token: admin.token, body: { to: "HEAD~1" } });
    expect(plan.status).toBe(200);
    expect(plan.body).toMatchObject({
      stack: "alice",
      file: "alice.yaml",
      to: "HEAD~1",
      commit: h.git("rev-parse", "HEAD~1").trim(),
      changes: true,
      report: { ok: true, failures: [] },
    });
    expect(plan.body.committed).toBeUndefined();
    expect(h.git("rev-parse", "HEAD").trim()).toBe(edited);

    const done = await h.api("POST", url, { token: admin.token, body: { to: "HEAD~1", confirm: true } });
    expect(done.status).toBe(200);
    expect(done.body.committed).toBe(h.git("rev-parse", "HEAD").trim());
    expect(h.git("rev-parse", "HEAD~1").trim()).toBe(edited);
    expect(fs.readFileSync(aliceFile(), "utf8")).toBe(original);
    expect(h.git("log", "-1", "--format=%ae").trim()).toBe("root@example.com");
    const again = await h.api("POST", url, { token: admin.token, body: { to: "HEAD~2", confirm: true } });
    expect([again.status, again.body.error.code]).toEqual([409, "nothing-to-roll-back"]);

    // A revision without the dev box: restoring it destroys the container, refused unless allowed.
    const withoutDev = commitFile(original.replace(/ {2}- name: dev\n(?: {4}.*\n)*/, ""), "drop dev");
    commitFile(original, "dev back");
    const head = h.git("rev-parse", "HEAD").trim();
    const refused = await h.api("POST", url, { token: admin.token, body: { to: withoutDev, confirm: true } });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toEqual({
      code: "rollback-refused",
      message: `restoring alice.yaml as of ${withoutDev} is refused: 1 container destroyed; allow with --allow-destroy`,
    });
    expect(refused.body.rollback).toMatchObject({ changes: true, report: { ok: false, destroys: 1 } });
    expect(h.git("rev-parse", "HEAD").trim()).toBe(head);
    expect(fs.readFileSync(aliceFile(), "utf8")).toBe(original);
    const allowed = await h.api("POST", url, { token: admin.token, body: { to: withoutDev, confirm: true, allowDestroy: true } });
    expect([allowed.status, allowed.body.report.ok]).toEqual([200, true]);
    expect(fs.readFileSync(aliceFile(), "utf8")).not.toContain("name: dev");
  });

  it("an unknown stack is 404, an unknown revision 400 with what to give instead, a bad body 400", async () => {
    const head = h.git("rev-parse", "HEAD").trim();
    const nobody = await h.api("POST", "/api/admin/stacks/nobody/rollback", { token: admin.token, body: { to: "HEAD~1" } });
    expect([nobody.status, nobody.body.error.code]).toEqual([404, "not-found"]);
    const rev = await h.api("POST", "/api/admin/stacks/alice/rollback", { token: admin.token, body: { to: "no-such-branch" } });
    expect([rev.status, rev.body.error]).toEqual([
      400,
      {
        code: "unknown-revision",
        message: 'git does not know the revision "no-such-branch"; give a commit id, a branch or HEAD~N',
        fields: { to: "is not a known revision" },
      },
    ]);
    const option = await h.api("POST", "/api/admin/stacks/alice/rollback", { token: admin.token, body: { to: "--output=/tmp/x" } });
    expect(option.body.error.code).toBe("unknown-revision");
    const bad = await h.api("POST", "/api/admin/stacks/alice/rollback", { token: admin.token, body: { to: "HEAD", yes: true } });
    expect([bad.status, bad.body.error.fields]).toEqual([400, { yes: "is not a known field" }]);
    expect(h.git("rev-parse", "HEAD").trim()).toBe(head);
  });

  it("both routes are in the OpenAPI document", async () => {
    const doc = (await h.api("GET", "/api/openapi.json")).body;
    expect(Object.keys(doc.paths["/api/admin/sync"])).toEqual(["get"]);
    expect(doc.paths["/api/admin/stacks/{stack}/rollback"].post.requestBody.content["application/json"].schema.properties.to.type).toBe("string");
  });
});
