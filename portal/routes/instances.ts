// /api/instances: list, create (202), start/stop/reboot, resize, delete, domains, snapshots, backups, stats and terminal tickets.
import { Router, type Request } from "express";
import { stringify } from "yaml";
import { z } from "zod";
import { API_VERSION, type PlatformSpec, type UserStackSpec } from "../../schemas/index.js";
import { costOf } from "../../stackfiles/cost.js";
import { addDomain, addInstance, removeDomain, removeInstance, setPlan, setPower } from "../../stackfiles/edit.js";
import type { Author } from "../../stackfiles/spec-store.js";
import { tunnelHostname } from "../../programs/naming.js";
import {
  BackupOut,
  CreateInstanceBody,
  DomainBody,
  DomainOut,
  InstanceListOut,
  InstanceOut,
  PageQuery,
  ResizeBody,
  SnapshotBody,
  SnapshotOut,
  StatsOut,
  TerminalTicketOut,
  TimeframeQuery,
} from "../api-schemas.js";
import { caller, requireUser } from "../auth-guard.js";
import type { PortalContext } from "../context.js";
import { httpError, notFound } from "../http-errors.js";
import { instanceView } from "../instance-view.js";
import { ownInstance, ownStack } from "../ownership.js";
import { MICRO } from "../points-ledger.js";
import { proxmoxOf, pveCall } from "../proxmox-calls.js";
import type { Account } from "../repos/accounts.js";
import { route, type RouteRegistry } from "../routing.js";
import { linuxUserFor } from "../stack-names.js";
import type { TicketStore } from "../terminal-tickets.js";

const IdParam = "/:id";

export function instanceRoutes(ctx: PortalContext, registry: RouteRegistry, tickets: TicketStore): Router {
  const r = Router();
  const user = requireUser(ctx);
  const author = (a: Account): Author => ({ name: a.name, email: a.email });
  const id = (req: Request) => String(req.params.id ?? "");

  /** 402 unless the balance covers the runway at `next`'s burn rate (administrators are never billed). */
  function checkRunway(a: Account, stack: string, next: UserStackSpec, platform: PlatformSpec, before: UserStackSpec | undefined): void {
    if (a.role === "admin") return;
    const perDay = costOf(next, platform).perDay;
    if (before && perDay <= costOf(before, platform).perDay) return;
    const needMicro = Math.ceil((perDay * MICRO * ctx.options.runwayHours) / 24);
    const balance = ctx.ledger.balanceMicro(stack);
    if (balance < needMicro) {
      throw httpError(
        402,
        "insufficient-points",
        `this change brings your burn to ${perDay} points/day; it needs ${needMicro / MICRO} points (${ctx.options.runwayHours} h of runway) and you have ${Math.floor(balance / 1000) / 1000}`,
      );
    }
  }

  async function observed(stack: string, name: string) {
    const row = ctx.engine.listInstances(stack).find((i) => i.name === name);
    if (!row?.vmid || row.state === "destroyed") throw httpError(409, "not-provisioned", `${stack}.${name} has no container yet; wait until it is running`);
    const platform = await ctx.specs.platform();
    return { vmid: row.vmid, power: row.power, node: platform.proxmox.nodes[0] ?? "pve" };
  }

  // --- instances ---

  route(
    r,
    registry,
    {
      method: "get",
      path: "/",
      tag: "instances",
      auth: "user",
      summary: "Your instances, paginated",
      query: PageQuery,
      response: { status: 200, schema: InstanceListOut },
      errors: [400, 401],
    },
    [user],
    async (req, res, { query }) => {
      const own = await ownStack(ctx, caller(req).account);
      const all = own ? own.spec.instances : [];
      const slice = all.slice((query.page - 1) * query.limit, query.page * query.limit);
      const items = own ? slice.map((i) => instanceView(ctx.engine, own.stack, own.spec, own.platform, i)) : [];
      res.json({ items, page: query.page, limit: query.limit, total: all.length });
    },
  );

  route(
    r,
    registry,
    {
      method: "get",
      path: IdParam,
      tag: "instances",
      auth: "user",
      summary: "One instance",
      response: { status: 200, schema: InstanceOut },
      errors: [401, 404],
    },
    [user],
    async (req, res) => {
      const o = await ownInstance(ctx, caller(req).account, id(req));
      res.json(instanceView(ctx.engine, o.stack, o.spec, o.platform, o.instance));
    },
  );

  route(
    r,
    registry,
    {
      method: "post",
      path: "/",
      tag: "instances",
      auth: "user",
      summary: "Create an instance: a stack-file edit; 202 while it provisions",
      body: CreateInstanceBody,
      response: { status: 202, schema: InstanceOut },
      errors: [400, 401, 402, 403, 409, 422],
    },
    [user],
    async (req, res, { body }) => {
      const a = caller(req).account;
      if (!a.verifiedAt || !a.stack) throw httpError(403, "email-not-verified", "verify your e-mail before creating instances");
      const stack = a.stack;
      const platform = await ctx.specs.platform();
      const input = { name: body.name, template: body.template, plan: body.plan };
      const message = `portal: ${stack} adds instance ${body.name} (${body.template}, ${body.plan})`;
      const file = await ctx.specs.read(stack);
      let result;
      if (!file) {
        if (!body.sshKeys)
          throw httpError(400, "invalid-request", "your first instance needs sshKeys: the public keys allowed to log in", {
            sshKeys: "is required for your first instance",
          });
        const spec = {
          apiVersion: API_VERSION,
          kind: "UserStack",
          name: stack,
          owner: { email: a.email },
          linuxUser: linuxUserFor(stack),
          sshKeys: body.sshKeys,
          instances: [input],
        };
        checkRunway(a, stack, { ...spec, instances: [{ ...input, power: "running", domains: [], protect: false }] } as UserStackSpec, platform, undefined);
        const text = `# Stack of ${a.email}, created by the proxstack portal. Edit freely: comments and layout are kept.\n${stringify(spec, { lineWidth: 0 })}`;
        result = await ctx.specs.create(stack, author(a), message, text);
      } else {
        if (file.spec && file.spec.owner.email.toLowerCase() !== a.email)
          throw httpError(403, "not-owner", "your stack file names another owner; ask an administrator");
        if (body.sshKeys)
          throw httpError(400, "invalid-request", "sshKeys are only taken for your first instance; your stack file already lists your keys", {
            sshKeys: "is not accepted once your stack exists",
          });
        result = await ctx.specs.edit(stack, author(a), message, (text, cur) => {
          if (cur.spec)
            checkRunway(
              a,
              stack,
              { ...cur.spec, instances: [...cur.spec.instances, { ...input, power: "running", domains: [], protect: false }] },
              platform,
              cur.spec,
            );
          return addInstance(text, input);
        });
      }
      ctx.engine.enqueue(stack);
      const inst = result.spec.instances.find((i) => i.name === body.name);
      if (!inst) throw httpError(500, "internal", "the instance vanished after it was written");
      res
        .status(202)
        .location(`/api/instances/${stack}.${inst.name}`)
        .json(instanceView(ctx.engine, stack, result.spec, platform, inst));
    },
  );

  route(
    r,
    registry,
    {
      method: "delete",
      path: IdParam,
      tag: "instances",
      auth: "user",
      summary: "Delete an instance (protected ones refuse with 409)",
      response: { status: 202 },
      errors: [401, 404, 409],
    },
    [user],
    async (req, res) => {
      const a = caller(req).account;
      const o = await ownInstance(ctx, a, id(req));
      if (o.instance.protect) throw httpError(409, "protected", `${o.stack}.${o.instance.name} is protected; set protect: false in your stack file first`);
      await ctx.specs.edit(o.stack, author(a), `portal: ${o.stack} deletes instance ${o.instance.name}`, (text, cur) => {
        if (cur.spec?.instances.find((i) => i.name === o.instance.name)?.protect)
          throw httpError(409, "protected", `${o.stack}.${o.instance.name} is protected`);
        return removeInstance(text, o.instance.name);
      });
      ctx.engine.enqueue(o.stack);
      res.status(202).json({ id: `${o.stack}.${o.instance.name}`, state: "deleting" });
    },
  );

  for (const power of ["running", "stopped"] as const) {
    const verb = power === "running" ? "start" : "stop";
    route(
      r,
      registry,
      {
        method: "post",
        path: `${IdParam}/${verb}`,
        tag: "instances",
        auth: "user",
        summary: `${verb === "start" ? "Start" : "Stop"} an instance (edits power)`,
        response: { status: 202, schema: InstanceOut },
        errors: [401, 404, 409],
      },
      [user],
      async (req, res) => {
        const a = caller(req).account;
        const o = await ownInstance(ctx, a, id(req));
        if (power === "running" && o.spec.suspension)
          throw httpError(409, "suspended", `your stack is suspended (${o.spec.suspension.reason}); ${o.spec.suspension.note ?? "top up your points"}`);
        const result = await ctx.specs.edit(o.stack, author(a), `portal: ${o.stack} ${verb}s ${o.instance.name}`, (text) =>
          setPower(text, o.instance.name, power),
        );
        if (result.changed) ctx.engine.enqueue(o.stack);
        const inst = result.spec.instances.find((i) => i.name === o.instance.name) ?? o.instance;
        res.status(202).json(instanceView(ctx.engine, o.stack, result.spec, o.platform, inst));
      },
    );
  }

  route(
    r,
    registry,
    {
      method: "post",
      path: `${IdParam}/reboot`,
      tag: "instances",
      auth: "user",
      summary: "Reboot a running instance (a runtime action)",
      response: { status: 202 },
      errors: [401, 404, 409, 503],
    },
    [user],
    async (req, res) => {
      const o = await ownInstance(ctx, caller(req).account, id(req));
      const pve = proxmoxOf(ctx);
      const at = await observed(o.stack, o.instance.name);
      if (at.power !== "running") throw httpError(409, "not-running", `${o.stack}.${o.instance.name} is not running`);
      await pveCall("reboot", () => pve.rebootContainer(at.node, at.vmid));
      res.status(202).json({ id: `${o.stack}.${o.instance.name}`, action: "reboot" });
    },
  );

  route(
    r,
    registry,
    {
      method: "patch",
      path: IdParam,
      tag: "instances",
      auth: "user",
      summary: "Resize: move to another plan of the catalog",
      body: ResizeBody,
      response: { status: 202, schema: InstanceOut },
      errors: [400, 401, 402, 404, 409, 422],
    },
    [user],
    async (req, res, { body }) => {
      const a = caller(req).account;
      const o = await ownInstance(ctx, a, id(req));
      const to = o.platform.plans[body.plan];
      if (!to)
        throw httpError(400, "invalid-request", `plan ${JSON.stringify(body.plan)} is not in the catalog (GET /api/plans)`, { plan: "is not in the catalog" });
      const from = o.platform.plans[o.instance.plan];
      // Proxmox grows a root disk in place but cannot shrink one: a smaller disk would replace the container.
      if (from && to.diskGiB < from.diskGiB) {
        throw httpError(
          409,
          "disk-shrink",
          `plan ${body.plan} has a ${to.diskGiB} GiB disk, smaller than the ${from.diskGiB} GiB of ${o.instance.plan}; a disk cannot shrink in place (take a backup and create a new instance instead)`,
        );
      }
      const result = await ctx.specs.edit(o.stack, author(a), `portal: ${o.stack} resizes ${o.instance.name} to ${body.plan}`, (text, cur) => {
        if (cur.spec) {
          const next = { ...cur.spec, instances: cur.spec.instances.map((i) => (i.name === o.instance.name ? { ...i, plan: body.plan } : i)) };
          checkRunway(a, o.stack, next, o.platform, cur.spec);
        }
        return setPlan(text, o.instance.name, body.plan);
      });
      if (result.changed) ctx.engine.enqueue(o.stack);
      const inst = result.spec.instances.find((i) => i.name === o.instance.name) ?? o.instance;
      res.status(202).json(instanceView(ctx.engine, o.stack, result.spec, o.platform, inst));
    },
  );

  // --- domains ---

  route(
    r,
    registry,
    {
      method: "get",
      path: `${IdParam}/domains`,
      tag: "domains",
      auth: "user",
      summary: "Public hostnames of an instance",
      response: { status: 200, schema: z.object({ items: z.array(DomainOut) }) },
      errors: [401, 404],
    },
    [user],
    async (req, res) => {
      const o = await ownInstance(ctx, caller(req).account, id(req));
      const { freePerInstance, extraPointsPerDay } = o.platform.domains;
      res.json({
        items: o.instance.domains.map((d, i) => ({
          subdomain: d.subdomain,
          port: d.port,
          hostname: tunnelHostname(o.stack, o.instance.name, d.subdomain, o.platform.baseDomain),
          pointsPerDay: i < freePerInstance ? 0 : extraPointsPerDay,
        })),
      });
    },
  );

  route(
    r,
    registry,
    {
      method: "post",
      path: `${IdParam}/domains`,
      tag: "domains",
      auth: "user",
      summary: "Add a public hostname <stack>-<instance>-<subdomain>.<baseDomain>",
      body: DomainBody,
      response: { status: 201, schema: DomainOut },
      errors: [400, 401, 402, 404, 409, 422],
    },
    [user],
    async (req, res, { body }) => {
      const a = caller(req).account;
      const o = await ownInstance(ctx, a, id(req));
      const hostname = tunnelHostname(o.stack, o.instance.name, body.subdomain, o.platform.baseDomain);
      const result = await ctx.specs.edit(o.stack, author(a), `portal: ${o.stack} adds domain ${hostname} → ${o.instance.name}:${body.port}`, (text, cur) => {
        if (cur.spec) {
          const next = { ...cur.spec, instances: cur.spec.instances.map((i) => (i.name === o.instance.name ? { ...i, domains: [...i.domains, body] } : i)) };
          checkRunway(a, o.stack, next, o.platform, cur.spec);
        }
        return addDomain(text, o.instance.name, body);
      });
      ctx.engine.enqueue(o.stack);
      const count = result.spec.instances.find((i) => i.name === o.instance.name)?.domains.length ?? 1;
      const { freePerInstance, extraPointsPerDay } = o.platform.domains;
      res.status(201).json({ subdomain: body.subdomain, port: body.port, hostname, pointsPerDay: count <= freePerInstance ? 0 : extraPointsPerDay });
    },
  );

  route(
    r,
    registry,
    {
      method: "delete",
      path: `${IdParam}/domains/:subdomain`,
      tag: "domains",
      auth: "user",
      summary: "Remove a public hostname",
      response: { status: 204 },
      errors: [401, 404],
    },
    [user],
    async (req, res) => {
      const a = caller(req).account;
      const o = await ownInstance(ctx, a, id(req));
      const sub = String(req.params.subdomain ?? "");
      if (!o.instance.domains.some((d) => d.subdomain === sub)) throw notFound(`domain ${JSON.stringify(sub.slice(0, 63))}`);
      await ctx.specs.edit(o.stack, author(a), `portal: ${o.stack} removes domain ${sub} of ${o.instance.name}`, (text) =>
        removeDomain(text, o.instance.name, sub),
      );
      ctx.engine.enqueue(o.stack);
      res.status(204).end();
    },
  );

  // --- snapshots and backups (runtime actions; ownership through the stack on every call) ---

  const snapshots = async (req: Request) => {
    const o = await ownInstance(ctx, caller(req).account, id(req));
    const at = await observed(o.stack, o.instance.name);
    const list = await pveCall("list snapshots", () => proxmoxOf(ctx).listSnapshots(at.node, at.vmid));
    return { o, at, list: list.filter((s) => s.name !== "current") };
  };

  route(
    r,
    registry,
    {
      method: "get",
      path: `${IdParam}/snapshots`,
      tag: "snapshots",
      auth: "user",
      summary: "Snapshots of an instance",
      response: { status: 200, schema: z.object({ items: z.array(SnapshotOut), max: z.number() }) },
      errors: [401, 404, 409],
    },
    [user],
    async (req, res) => {
      const { list } = await snapshots(req);
      res.json({
        items: list.map((s) => ({ name: s.name, description: s.description ?? "", createdAt: s.snaptime ? new Date(s.snaptime * 1000).toISOString() : null })),
        max: ctx.options.maxSnapshots,
      });
    },
  );

  route(
    r,
    registry,
    {
      method: "post",
      path: `${IdParam}/snapshots`,
      tag: "snapshots",
      auth: "user",
      summary: "Take a snapshot",
      body: SnapshotBody,
      response: { status: 201, schema: SnapshotOut },
      errors: [400, 401, 404, 409],
    },
    [user],
    async (req, res, { body }) => {
      const { at, list } = await snapshots(req);
      if (list.some((s) => s.name === body.name)) throw httpError(409, "already-exists", `a snapshot named ${body.name} already exists`);
      if (list.length >= ctx.options.maxSnapshots)
        throw httpError(409, "snapshot-limit", `an instance holds at most ${ctx.options.maxSnapshots} snapshots; delete one first`);
      await pveCall("snapshot", () => proxmoxOf(ctx).createSnapshot(at.node, at.vmid, body.name, body.description));
      res.status(201).json({ name: body.name, description: body.description ?? "", createdAt: ctx.clock.now().toISOString() });
    },
  );

  const snapshotName = async (req: Request) => {
    const s = await snapshots(req);
    const name = String(req.params.name ?? "");
    if (!s.list.some((x) => x.name === name)) throw notFound(`snapshot ${JSON.stringify(name.slice(0, 40))}`);
    return { ...s, name };
  };

  route(
    r,
    registry,
    {
      method: "post",
      path: `${IdParam}/snapshots/:name/rollback`,
      tag: "snapshots",
      auth: "user",
      summary: "Roll the instance back to a snapshot",
      response: { status: 200 },
      errors: [401, 404, 409],
    },
    [user],
    async (req, res) => {
      const { at, name, o } = await snapshotName(req);
      await pveCall("rollback", () => proxmoxOf(ctx).rollbackSnapshot(at.node, at.vmid, name, { start: o.instance.power === "running" }));
      res.json({ id: `${o.stack}.${o.instance.name}`, rolledBackTo: name });
    },
  );

  route(
    r,
    registry,
    {
      method: "delete",
      path: `${IdParam}/snapshots/:name`,
      tag: "snapshots",
      auth: "user",
      summary: "Delete a snapshot",
      response: { status: 204 },
      errors: [401, 404, 409],
    },
    [user],
    async (req, res) => {
      const { at, name } = await snapshotName(req);
      await pveCall("delete snapshot", () => proxmoxOf(ctx).deleteSnapshot(at.node, at.vmid, name));
      res.status(204).end();
    },
  );

  const volidOf = (archive: string) => `local:backup/${archive.split("/").at(-1) ?? ""}`;

  route(
    r,
    registry,
    {
      method: "get",
      path: `${IdParam}/backups`,
      tag: "backups",
      auth: "user",
      summary: "Backups (vzdump archives) of an instance",
      response: { status: 200, schema: z.object({ items: z.array(BackupOut) }) },
      errors: [401, 404, 409],
    },
    [user],
    async (req, res) => {
      const o = await ownInstance(ctx, caller(req).account, id(req));
      const at = await observed(o.stack, o.instance.name);
      const list = await pveCall("list backups", () => proxmoxOf(ctx).listBackups(at.node, at.vmid));
      res.json({
        items: list.filter((b) => b.vmid === at.vmid).map((b) => ({ volid: volidOf(b.archive), createdAt: new Date(b.starttime * 1000).toISOString() })),
      });
    },
  );

  route(
    r,
    registry,
    {
      method: "post",
      path: `${IdParam}/backups`,
      tag: "backups",
      auth: "user",
      summary: "Back up an instance now (vzdump, snapshot mode)",
      response: { status: 201, schema: BackupOut },
      errors: [401, 404, 409],
    },
    [user],
    async (req, res) => {
      const o = await ownInstance(ctx, caller(req).account, id(req));
      const at = await observed(o.stack, o.instance.name);
      const out = await pveCall("backup", () => proxmoxOf(ctx).backup(at.node, at.vmid, { mode: "snapshot", compress: "zstd", storage: "local" }));
      if (!out.archive) throw httpError(502, "proxmox-error", "the backup finished but Proxmox named no archive");
      res.status(201).json({ volid: volidOf(out.archive), createdAt: ctx.clock.now().toISOString() });
    },
  );

  route(
    r,
    registry,
    {
      method: "delete",
      path: `${IdParam}/backups/:volid`,
      tag: "backups",
      auth: "user",
      summary: "Delete one of this instance's backups (the storage volume is removed; 204)",
      response: { status: 204 },
      errors: [401, 404, 409],
    },
    [user],
    async (req, res) => {
      const o = await ownInstance(ctx, caller(req).account, id(req));
      const at = await observed(o.stack, o.instance.name);
      const volid = String(req.params.volid ?? "");
      const list = await pveCall("list backups", () => proxmoxOf(ctx).listBackups(at.node, at.vmid));
      // The volid must be exactly one of this instance's archives: never a substring test.
      if (!list.some((b) => b.vmid === at.vmid && volidOf(b.archive) === volid)) throw notFound(`backup ${JSON.stringify(volid.slice(0, 120))}`);
      await pveCall("delete backup", () => proxmoxOf(ctx).deleteVolume(at.node, volid.slice(0, volid.indexOf(":")), volid));
      res.status(204).end();
    },
  );

  // --- stats ---

  route(
    r,
    registry,
    {
      method: "get",
      path: `${IdParam}/stats`,
      tag: "stats",
      auth: "user",
      summary: "Current CPU, memory, disk, network and uptime",
      response: { status: 200, schema: StatsOut },
      errors: [401, 404, 409],
    },
    [user],
    async (req, res) => {
      const o = await ownInstance(ctx, caller(req).account, id(req));
      const at = await observed(o.stack, o.instance.name);
      const s = await pveCall("stats", () => proxmoxOf(ctx).containerStatus(at.node, at.vmid));
      res.json({
        state: s.status,
        cpu: s.cpu ?? 0,
        cores: s.cpus ?? 0,
        memory: { used: s.mem ?? 0, total: s.maxmem ?? 0 },
        disk: { used: s.disk ?? 0, total: s.maxdisk ?? 0 },
        network: { in: s.netin ?? 0, out: s.netout ?? 0 },
        uptime: s.uptime ?? 0,
      });
    },
  );

  route(
    r,
    registry,
    {
      method: "get",
      path: `${IdParam}/stats/history`,
      tag: "stats",
      auth: "user",
      summary: "History of the stats (Proxmox rrddata)",
      query: TimeframeQuery,
      response: { status: 200, schema: z.object({ timeframe: z.string(), points: z.array(z.record(z.string(), z.number())) }) },
      errors: [400, 401, 404, 409],
    },
    [user],
    async (req, res, { query }) => {
      const o = await ownInstance(ctx, caller(req).account, id(req));
      const at = await observed(o.stack, o.instance.name);
      const points = await pveCall("stats history", () => proxmoxOf(ctx).rrddata(at.node, at.vmid, query.timeframe));
      res.json({ timeframe: query.timeframe, points });
    },
  );

  // --- terminal ---

  route(
    r,
    registry,
    {
      method: "post",
      path: `${IdParam}/terminal`,
      tag: "terminal",
      auth: "user",
      summary: "A single-use ticket for WebSocket /ws/terminal?ticket=… (valid 30 s)",
      response: { status: 201, schema: TerminalTicketOut },
      errors: [401, 404, 409, 503],
    },
    [user],
    async (req, res) => {
      const a = caller(req).account;
      const o = await ownInstance(ctx, a, id(req));
      if (!ctx.terminal) throw httpError(503, "terminal-unavailable", "the web terminal is not available on this installation");
      await observed(o.stack, o.instance.name);
      const t = tickets.issue({ accountId: a.id, stack: o.stack, instance: o.instance.name });
      res.status(201).json({ ticket: t.ticket, expiresAt: t.expiresAt.toISOString(), url: `/ws/terminal?ticket=${t.ticket}` });
    },
  );

  return r;
}
