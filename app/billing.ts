// Wires billing for `serve` and the CLI: billing.db in the data dir, the engine's status, the stacks repository, the outbox.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openLedgerRepository, type LedgerRepository } from "../billing/ledger-repository.js";
import type { BillingNotifier } from "../billing/notifier.js";
import { createOutboxNotifier } from "../billing/outbox-notifier.js";
import { createBilling, specsFromIndex, type Billing } from "../billing/service.js";
import { createStackFileWriter, type SuspensionWriter } from "../billing/stack-file-writer.js";
import { createStackIndex } from "../engine/stack-index.js";
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
}

export interface OpenedBilling {
  billing: Billing;
  repo: LedgerRepository;
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
      throw new ProxstackError("engine-db-missing", `no engine database at ${file}; start the engine with 'npm start' or 'proxstack reconcile'`, { kind: "stall" });
    }
    const store = openStatusStore(file, { clock });
    status = store;
    closeStatus = () => store.close();
  }
  const repo = openLedgerRepository(join(config.dataDir, "billing.db"), { now: clock.now() });
  const instances = status;
  const billing = createBilling({
    repo,
    instances: () => instances.listInstances(),
    specs: specsFromIndex(createStackIndex(config.stacksDir)),
    writer: w.writer ?? createStackFileWriter({ stacksDir: config.stacksDir }),
    notifier: w.notifier ?? createOutboxNotifier({ dir: join(config.dataDir, "outbox"), log: w.log.child({ component: "billing" }), now: () => clock.now() }),
    isExempt: w.isExempt ?? (() => false),
    log: w.log.child({ component: "billing" }),
  });
  return {
    billing,
    repo,
    close() {
      repo.close();
      closeStatus?.();
    },
  };
}
