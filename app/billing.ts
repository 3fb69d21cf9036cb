// Wires billing for `serve` and the CLI: billing.db in the data dir, the engine's status, the stacks repository, the outbox.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openLedgerRepository, type LedgerRepository } from "../billing/ledger-repository.js";
import type { BillingNotifier } from "../billing/notifier.js";
import { createOutboxNotifier } from "../billing/outbox-notifier.js";
import { createBillingJobs, type BillingJobs, type Scheduler } from "../billing/jobs.js";
import { runSchedules } from "../billing/schedules.js";
import { createBilling, specsFromIndex, type Billing, type SpecSource } from "../billing/service.js";
import type { ProxmoxClient } from "../clients/proxmox/client.js";
import { createStackFileWriter, type SuspensionWriter } from "../billing/stack-file-writer.js";
import { createStackIndex, type StackIndex } from "../engine/stack-index.js";
import { openStatusStore, type StatusStore } from "../engine/status/store.js";
import { systemClock, type Clock } from "../lib/clock.js";
import { ProxstackError } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import type { Config } from "../schemas/config.js";

export interface BillingWiring {
  log: Logger;
  clock?: Clock;
  /** The engine's status store; opened from <data dir>/engine.db when absent (the CLI). */
  status?: Pick<StatusStore, "listInstances">;
  notifier?: BillingNotifier;
  /** Administrators are never billed; the portal's accounts answer this. @default no stack is exempt */
  isExempt?: (stack: string) => boolean;
  /** Where suspensions are written; the portal's spec store may replace the stack-file writer. */
  writer?: SuspensionWriter;
  /** The stack files as the running engine's index holds them (its watcher keeps them current). @default billing's own index, resynced each tick */
  index?: StackIndex;
}

export interface OpenedBilling {
  billing: Billing;
  repo: LedgerRepository;
  specs: SpecSource;
  instances(): ReturnType<StatusStore["listInstances"]>;
  notifier: BillingNotifier;
  log: Logger;
  close(): void;
}

/** Opens billing over the data dir; the CLI's `billing` and `points` commands and `serve` share it. */
export function openBilling(config: Config, w: BillingWiring): OpenedBilling {
  const clock = w.clock ?? systemClock;
  let status = w.status;
  let closeStatus: (() => void) | undefined;
  if (!status) {
    const file = join(config.dataDir, "engine.db");
    if (!existsSync(file)) {
      throw new ProxstackError("engine-db-missing", `no engine database at ${file}; start the engine with 'npm start' or 'proxstack reconcile'`, {
        kind: "stall",
      });
    }
    const store = openStatusStore(file, { clock });
    status = store;
    closeStatus = () => store.close();
  }
  const repo = openLedgerRepository(join(config.dataDir, "billing.db"), { now: clock.now() });
  const source = status;
  const instances = () => source.listInstances();
  const log = w.log.child({ component: "billing" });
  const specs = w.index ? specsFromIndex(w.index, { resync: false }) : specsFromIndex(createStackIndex(config.stacksDir));
  const notifier = w.notifier ?? createOutboxNotifier({ dir: join(config.dataDir, "outbox"), log, now: () => clock.now() });
  const billing = createBilling({
    repo,
    instances,
    specs,
    writer: w.writer ?? createStackFileWriter({ stacksDir: config.stacksDir }),
    notifier,
    isExempt: w.isExempt ?? (() => false),
    log,
  });
  return {
    billing,
    repo,
    specs,
    instances,
    notifier,
    log,
    close() {
      repo.close();
      closeStatus?.();
    },
  };
}

export interface StartedBilling extends OpenedBilling {
  jobs: BillingJobs;
  /** Stops the jobs (waiting for a run in progress) and closes the databases. */
  stop(): Promise<void>;
}

/**
 * What `serve` calls once the engine runs: billing every minute and, when a Proxmox client is given
 * (the simulator's in simulation), scheduled snapshots and backups.
 * @example const billing = await startBilling(config, { log, status: composed.engine.store, proxmox: pve, isExempt });
 */
export async function startBilling(
  config: Config,
  w: BillingWiring & { status: Pick<StatusStore, "listInstances">; proxmox?: ProxmoxClient; scheduler?: Scheduler; backupStorage?: string },
): Promise<StartedBilling> {
  const clock = w.clock ?? systemClock;
  const opened = openBilling(config, w);
  const pve = w.proxmox;
  const storage = w.backupStorage ?? "local";
  const jobs = createBillingJobs({
    clock,
    log: opened.log,
    tick: (now) => opened.billing.tick(now),
    ...(pve
      ? {
          schedules: (now: Date) =>
            runSchedules(
              {
                repo: opened.repo,
                specs: opened.specs,
                instances: opened.instances,
                pve,
                notifier: opened.notifier,
                log: opened.log,
                backupStorage: storage,
              },
              now,
            ),
        }
      : {}),
    ...(w.scheduler ? { scheduler: w.scheduler } : {}),
  });
  if (!pve) opened.log.info("scheduled snapshots and backups are off: no Proxmox client was given to startBilling");
  await jobs.start();
  return {
    ...opened,
    jobs,
    async stop() {
      await jobs.stop();
      opened.close();
    },
  };
}
