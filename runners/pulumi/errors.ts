// Translates Automation API errors into ProxstackError codes and kinds through one table, secrets redacted from messages.
import { ProxstackError, type ErrorKind } from "../../lib/errors.js";

interface ErrorRule {
  code: string;
  kind: ErrorKind;
  /** Matches on the error class name (`ConcurrentUpdateError` …) and/or its message. */
  name?: string;
  text?: RegExp;
  /** What the operator should do; appended to the message. */
  hint: string;
}

/**
 * First match wins. Class names are the SDK's (`automation/errors.js`); the texts are the CLI's own
 * messages, so a CommandError that carries them maps to the specific code.
 */
export const PULUMI_ERROR_TABLE: readonly ErrorRule[] = [
  {
    code: "pulumi.stack-locked",
    kind: "retry",
    name: "ConcurrentUpdateError",
    hint: "another update holds the stack lock; retrying later (a lock whose process died is cleared at once)",
  },
  {
    code: "pulumi.stack-locked",
    kind: "retry",
    text: /the stack is currently locked by|\[409\] Conflict/,
    hint: "another update holds the stack lock; retrying later",
  },
  { code: "pulumi.stack-not-found", kind: "stall", name: "StackNotFoundError", hint: "the stack does not exist in the backend" },
  { code: "pulumi.stack-exists", kind: "retry", name: "StackAlreadyExistsError", hint: "the stack was created concurrently; retrying selects it" },
  {
    code: "pulumi.cli-missing",
    kind: "stall",
    text: /ENOENT|pulumi: (command )?not found/,
    hint: "install the Pulumi CLI, or unset PROXMOX_VE_ENDPOINT to run in simulation mode",
  },
  {
    code: "pulumi.protected",
    kind: "stall",
    text: /protected|cannot be (deleted|replaced) because/i,
    hint: "a protected resource would be deleted or replaced; change the stack file or remove protect first",
  },
  {
    code: "pulumi.passphrase",
    kind: "stall",
    text: /passphrase|decrypt|incorrect.*secret/i,
    hint: "check PULUMI_CONFIG_PASSPHRASE(_FILE): it must be the passphrase the stack was created with",
  },
  {
    code: "pulumi.plugin-missing",
    kind: "stall",
    text: /no resource plugin|could not find plugin|failed to (install|load) plugin/i,
    hint: "install the provider plugins (proxmoxve 8.6.0, cloudflare 6.22.1) into PULUMI_HOME/plugins",
  },
  {
    code: "pulumi.pending-operations",
    kind: "stall",
    text: /pending operations?|interrupted/i,
    hint: "an interrupted update left pending operations; the runner clears them with refresh --clear-pending-creates",
  },
  { code: "pulumi.cancelled", kind: "retry", text: /(update|operation) (was )?cancel+ed|SIGINT|signal/i, hint: "the run was cancelled" },
  {
    code: "pulumi.network",
    kind: "retry",
    text: /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|timeout|timed out|\b50[234]\b/i,
    hint: "a provider API was unreachable; retrying",
  },
  { code: "pulumi.backend", kind: "stall", text: /backend|PULUMI_BACKEND_URL|login/i, hint: "check PULUMI_BACKEND_URL (or the data dir's file backend)" },
];

/** Replaces every known secret value in a text by `[secret]`. */
export type Redactor = (text: string) => string;

export function createRedactor(secrets: readonly (string | undefined)[]): Redactor {
  // Longest first, so a secret containing another is replaced whole; short values would mangle ordinary text.
  const values = [...new Set(secrets.filter((s): s is string => typeof s === "string" && s.length >= 6))].sort((a, b) => b.length - a.length);
  return (text) => values.reduce((t, s) => t.split(s).join("[secret]"), text);
}

/**
 * Maps any error thrown by the workspace into a ProxstackError: `<what>: pulumi: <first lines>: <hint>`.
 * ProxstackErrors pass through. Unknown CommandErrors are `pulumi.command-failed`, kind retry (the
 * reconciler backs off and reports Stalled after repeated failures).
 */
export function mapPulumiError(err: unknown, what: string, redact: Redactor): ProxstackError {
  if (err instanceof ProxstackError) return err;
  const name = err instanceof Error ? err.name : "";
  const raw = redact(err instanceof Error ? err.message : String(err));
  const rule = PULUMI_ERROR_TABLE.find(
    (r) => (r.name === undefined || r.name === name) && (r.text === undefined || r.text.test(raw)) && (r.name !== undefined || r.text !== undefined),
  );
  const summary = summarise(raw);
  const code = rule?.code ?? "pulumi.command-failed";
  const kind = rule?.kind ?? "retry";
  const hint = rule?.hint ?? "see the run's events for the failing resource";
  // The cause keeps the class name only: the original message may carry CLI output we did not vet.
  return new ProxstackError(code, `${what}: pulumi: ${summary}: ${hint}`, {
    kind,
    cause: new ProxstackError("pulumi.redacted", `${name || "Error"} (details redacted into the message)`, { kind }),
  });
}

/** The lines of a CLI error worth showing: `error:` lines first, else the first non-empty lines. */
function summarise(message: string): string {
  const lines = message
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  // The CLI's own messages start with "error:"; the SDK prefixes them with "stderr: ".
  const errors = lines.map((l) => /\berror:.*/i.exec(l)?.[0]).filter((l): l is string => l !== undefined);
  const chosen = (errors.length > 0 ? errors : lines).slice(0, 3).join(" / ");
  return chosen.length > 600 ? `${chosen.slice(0, 600)}…` : chosen || "unknown error";
}
