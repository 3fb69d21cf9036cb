// The embedded mail transport for billing notices: each one an .eml file in <data dir>/outbox/, as the portal's default does.
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../lib/logger.js";
import { describeNotice, type BillingNotice, type BillingNotifier } from "./notifier.js";

const SUBJECTS: Record<BillingNotice["type"], string> = {
  "runway-warning": "Your points are running out",
  suspended: "Your instances are stopped: points exhausted",
  resumed: "Your instances are starting again",
  "deletion-scheduled": "Your instances will be deleted",
  deleted: "Your instances were deleted",
  snapshot: "Scheduled snapshot",
  backup: "Scheduled backup",
};

/** Writes each notice as a plain-text mail into `dir` and logs it; snapshot and backup outcomes are logged only. */
export function createOutboxNotifier(opts: { dir: string; from?: string; log: Logger; now: () => Date }): BillingNotifier {
  const from = opts.from ?? "proxstack <billing@proxstack.invalid>";
  return {
    async notify(n) {
      const line = describeNotice(n);
      opts.log.info({ stack: n.stack, notice: n.type }, line);
      if (n.type === "snapshot" || n.type === "backup") return;
      await mkdir(opts.dir, { recursive: true });
      const date = opts.now();
      // Addresses come from validated stack files (schema-checked e-mail), the body is plain text.
      const mail = [
        `From: ${from}`,
        `To: ${n.email}`,
        `Subject: ${SUBJECTS[n.type]}`,
        `Date: ${date.toUTCString()}`,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        line,
        "",
      ].join("\r\n");
      const name = `${date.toISOString().replace(/[:.]/g, "-")}-${randomBytes(4).toString("hex")}.eml`;
      await writeFile(join(opts.dir, name), mail, { mode: 0o600 });
    },
  };
}
