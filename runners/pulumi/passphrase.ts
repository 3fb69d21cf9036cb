// The passphrase secrets provider's key: from config, or a file under the data dir generated once with mode 0600.
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ProxstackError } from "../../lib/errors.js";

export interface PassphraseSettings {
  /** PULUMI_CONFIG_PASSPHRASE, when the operator set it. */
  passphrase?: string;
  /** PULUMI_CONFIG_PASSPHRASE_FILE, or `<data dir>/pulumi-passphrase`. */
  passphraseFile: string;
}

/**
 * Environment for the CLI that unlocks stack secrets, plus the passphrase itself (for redaction).
 * A missing file is created with 32 random bytes (base64url) and mode 0600; an existing file readable
 * by group or others is tightened to 0600. The value never goes to argv or logs.
 */
export function ensurePassphrase(s: PassphraseSettings): { envVars: Record<string, string>; passphrase: string } {
  if (s.passphrase !== undefined) return { envVars: { PULUMI_CONFIG_PASSPHRASE: s.passphrase }, passphrase: s.passphrase };
  mkdirSync(path.dirname(s.passphraseFile), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(s.passphraseFile, `${randomBytes(32).toString("base64url")}\n`, { flag: "wx", mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new ProxstackError("pulumi.passphrase-file", `cannot create the Pulumi passphrase file ${s.passphraseFile}: check the data dir's permissions`, {
        kind: "stall",
        cause: err,
      });
    }
  }
  if ((statSync(s.passphraseFile).mode & 0o077) !== 0) chmodSync(s.passphraseFile, 0o600);
  const passphrase = readFileSync(s.passphraseFile, "utf8").trim();
  if (passphrase === "") {
    throw new ProxstackError(
      "pulumi.passphrase-file",
      `the Pulumi passphrase file ${s.passphraseFile} is empty: restore it from backup (stack secrets need the original passphrase)`,
      { kind: "stall" },
    );
  }
  return { envVars: { PULUMI_CONFIG_PASSPHRASE_FILE: s.passphraseFile }, passphrase };
}
