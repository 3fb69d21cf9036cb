// Scheduled snapshots and backups from each instance's `snapshots` and `backups` policy: taken through Proxmox, pruned to `keep`, each outcome an event.
import { basename } from "node:path";
import type { ProxmoxClient } from "../clients/proxmox/client.js";
import type { InstanceStatus } from "../engine/status/store.js";
import { chainMessage } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import type { UserStackSpec } from "../schemas/index.js";
import { latestSlot } from "./cron-slot.js";
import type { LedgerRepository } from "./ledger-repository.js";
import type { BillingNotice, BillingNotifier } from "./notifier.js";
import { describeNotice } from "./notifier.js";
import type { SpecSource } from "./service.js";

/** Names of snapshots proxstack takes; only these are ever pruned. */
export const AUTO_SNAPSHOT = /^pxs_auto_\d{12}$/;

/** What schedules need of Proxmox. */
export type ScheduleProxmox = Pick<ProxmoxClient, "createSnapshot" | "listSnapshots" | "deleteSnapshot" | "backup" | "deleteVolume">;

export interface ScheduleDeps {
  repo: LedgerRepository;
  specs: SpecSource;
  instances(): InstanceStatus[];
  pve: ScheduleProxmox;
  notifier: BillingNotifier;
  log: Logger;
  /** vzdump target storage. @default local */
  backupStorage?: string;
}

export interface ScheduleOutcome {
  stack: string;
  instance: string;
  kind: "snapshot" | "backup";
  ok: boolean;
  detail: string;
  pruned: string[];
}

/** The snapshot name for a slot: `pxs_auto_YYYYMMDDHHMM` (UTC). */
export function autoSnapshotName(slotMinute: number): string {
  return `pxs_auto_${new Date(slotMinute * 60_000).toISOString().replace(/[-:T]/g, "").slice(0, 12)}`;
}

/** A vzdump archive path as the storage volume id Proxmox deletes: `local:backup/vzdump-lxc-….tar.zst`. */
export function backupVolid(storage: string, archive: string): string {
  return `${storage}:backup/${basename(archive)}`;
}

/**
 * Runs every schedule whose latest slot is newer than the last one run: once, however many slots
 * passed while proxstack was down. A schedule seen for the first time starts from its latest slot.
 */
export async function runSchedules(deps: ScheduleDeps, now: Date): Promise<ScheduleOutcome[]> {
  const { platform, users } = await deps.specs.load();
  const node = platform.proxmox.nodes[0] ?? "pve1";
  const live = new Map(
    deps
      .instances()
      .filter((i) => i.state !== "destroyed" && i.vmid !== undefined)
      .map((i) => [`${i.stack}/${i.name}`, i]),
  );
  const out: ScheduleOutcome[] = [];
  for (const [stack, spec] of users) {
    for (const inst of spec.instances) {
      const status = live.get(`${stack}/${inst.name}`);
      if (!status?.vmid) continue;
      for (const kind of ["snapshot", "backup"] as const) {
        const policy = kind === "snapshot" ? inst.snapshots : inst.backups;
        if (!policy) continue;
        const slot = latestSlot(policy.schedule, now);
        if (slot === undefined) continue;
        const last = deps.repo.lastSlot(stack, inst.name, kind);
        if (last !== undefined && last >= slot) continue;
        // Recorded before the run: a crash mid-snapshot skips this slot rather than repeating it.
        deps.repo.setLastSlot(stack, inst.name, kind, slot);
        if (last === undefined) continue;
        out.push(await take(deps, spec, inst.name, status.vmid, node, kind, policy.keep, slot, now));
      }
    }
  }
  return out;
}

async function take(
  deps: ScheduleDeps,
  spec: UserStackSpec,
  instance: string,
  vmid: number,
  node: string,
  kind: "snapshot" | "backup",
  keep: number,
  slot: number,
  now: Date,
): Promise<ScheduleOutcome> {
  const stack = spec.name;
  const outcome: ScheduleOutcome = { stack, instance, kind, ok: true, detail: "", pruned: [] };
  try {
    if (kind === "snapshot") {
      const name = autoSnapshotName(slot);
      await deps.pve.createSnapshot(node, vmid, name, "scheduled by proxstack");
      outcome.detail = name;
      const own = (await deps.pve.listSnapshots(node, vmid))
        .map((s) => s.name)
        .filter((n) => AUTO_SNAPSHOT.test(n))
        .sort();
      for (const old of own.slice(0, Math.max(0, own.length - keep))) {
        await deps.pve.deleteSnapshot(node, vmid, old);
        outcome.pruned.push(old);
      }
    } else {
      const storage = deps.backupStorage ?? "local";
      const r = await deps.pve.backup(node, vmid, { storage, mode: "snapshot", compress: "zstd" });
      const archive = r.archive ?? `${r.upid}`;
      deps.repo.recordBackup(stack, instance, archive, now.toISOString());
      outcome.detail = basename(archive);
      const own = deps.repo.ownBackups(stack, instance);
      for (const old of own.slice(0, Math.max(0, own.length - keep))) {
        await deps.pve.deleteVolume(node, storage, backupVolid(storage, old.archive));
        deps.repo.forgetBackup(old.archive);
        outcome.pruned.push(basename(old.archive));
      }
    }
  } catch (err) {
    outcome.ok = false;
    outcome.detail = `${outcome.detail ? outcome.detail + ": " : ""}${chainMessage(err)}`;
  }
  const notice: BillingNotice = {
    type: kind,
    stack,
    email: spec.owner.email,
    instance,
    ok: outcome.ok,
    detail: outcome.pruned.length > 0 ? `${outcome.detail} (pruned ${outcome.pruned.join(", ")})` : outcome.detail,
  };
  deps.repo.addEvent(stack, now.toISOString(), kind, describeNotice(notice));
  try {
    await deps.notifier.notify(notice);
  } catch (err) {
    deps.log.warn({ stack, err: chainMessage(err) }, "schedule notice not delivered");
  }
  return outcome;
}
