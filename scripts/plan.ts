// `proxstack plan <stack> [--json]`: what an apply would do, resource by resource, with replacement warnings.
import type { StackTarget } from "../runners/runner.js";
import { guardPlan, askedReplacements } from "../engine/plan-guard.js";
import type { StatusStore } from "../engine/status/store.js";
import { replacementRisks } from "../programs/replacement.js";
import type { UserStackSpec } from "../schemas/index.js";
import { EXIT, parseFlags, UsageError, type Command } from "./cli.js";
import { engineFromEnv, recordedInputs, type RecordedInputs } from "./engine-cli.js";

export const command: Command = {
  summary: "what an apply would do (resources, changes, replacement warnings)",
  help: `Usage: proxstack plan <stack> [--json]

Previews stacks/<stack>.yaml (or "platform"): every resource with its type, logical name, operation
and key inputs, the inputs that changed since the last apply, and warnings for changes that would
replace or destroy a container. Applies nothing. Exit 1 when the file is invalid or the engine's
guard would refuse the plan.

Inputs that come from outside the files — the user's VPN peer addresses, which feed the firewall —
are taken from the last recorded apply of the stack (never asked of the VPN service, which could
create a peer), and the plan says so: a plan run beside a stopped engine shows only what the files change.

  --json   one JSON document instead of the listing
`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, { json: { type: "boolean" } });
    const stack = positionals[0];
    if (!stack || positionals.length > 1) throw new UsageError("name exactly one stack, e.g. proxstack plan alice");
    let store: StatusStore | undefined;
    const recorded = new Map<string, RecordedInputs>();
    const fromLastApply = (spec: UserStackSpec): Promise<string[]> => {
      const r = store ? recordedInputs(store, spec.name) : { vpnPeerAddresses: [], source: "no-apply" as const };
      recorded.set(spec.name, r);
      return Promise.resolve(r.vpnPeerAddresses);
    };
    const { composed } = await engineFromEnv(io, { watch: false, resyncIntervalMs: 0 }, () => Promise.resolve({ vpnPeerAddresses: fromLastApply }));
    const { engine } = composed;
    store = engine.store;
    try {
      await engine.index.resync();
      const platform = engine.index.platform();
      if (!platform.spec) {
        io.stderr((platform.errors ?? []).join("\n") + "\n");
        return EXIT.failed;
      }
      let target: StackTarget;
      let before: UserStackSpec | undefined;
      if (stack === "platform") {
        target = { kind: "platform", name: "platform", platform: platform.spec, users: engine.index.routedUsers() };
      } else {
        const e = engine.index.get(stack);
        if (!e) {
          io.stderr(`proxstack plan: no stack file ${stack}.yaml in ${engine.index.dir}\n`);
          return EXIT.failed;
        }
        if (!e.valid) {
          io.stderr((e.errors ?? []).join("\n") + "\n");
          return EXIT.failed;
        }
        target = { kind: "user", name: stack, spec: e.valid.spec, platform: platform.spec };
        before = engine.store.getStack(stack)?.appliedSpec as UserStackSpec | undefined;
      }
      const preview = await engine.runner.preview(target);
      const risks = target.kind === "user" && before ? replacementRisks(before, target.spec, platform.spec) : [];
      const verdict =
        target.kind === "user"
          ? guardPlan(
              stack,
              preview.steps,
              before,
              target.spec,
              before ? new Set(risks.filter((r) => r.kind === "replace").map((r) => r.instance)) : askedReplacements(before, target.spec),
            )
          : { ok: true as const };
      const external = recorded.get(stack);
      if (values.json) {
        io.stdout(
          JSON.stringify(
            {
              stack,
              mode: engine.runner.mode,
              steps: preview.steps,
              changeSummary: preview.changeSummary,
              warnings: risks,
              guard: verdict,
              ...(external ? { externalInputs: external } : {}),
            },
            null,
            2,
          ) + "\n",
        );
      } else {
        io.stdout(`plan for ${stack} (${engine.runner.mode}${engine.runner.mode === "simulation" ? ": Proxmox and Cloudflare are simulated" : ""})\n`);
        if (external) io.stdout(`${describeRecorded(external)}\n`);
        for (const s of preview.steps) {
          const inputs = Object.entries(s.inputs)
            .filter(([k, v]) => v !== undefined && typeof v !== "object" && k !== "description")
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(" ");
          io.stdout(`  ${s.op.padEnd(8)} ${s.type}  ${s.name}${inputs ? `  ${inputs}` : ""}${s.diffs?.length ? `  (changed: ${s.diffs.join(", ")})` : ""}\n`);
        }
        io.stdout(
          `summary: ${
            Object.entries(preview.changeSummary)
              .map(([k, v]) => `${k} ${v}`)
              .join(", ") || "no changes"
          }\n`,
        );
        for (const r of risks) io.stdout(`WARNING: ${r.instance}: ${r.reason}\n`);
        if (!verdict.ok) io.stdout(`the engine would refuse this plan: ${verdict.message}\n`);
      }
      return verdict.ok ? EXIT.ok : EXIT.failed;
    } finally {
      await composed.close();
    }
  },
};

function describeRecorded(r: RecordedInputs): string {
  const list = r.vpnPeerAddresses.length > 0 ? r.vpnPeerAddresses.join(", ") : "none";
  switch (r.source) {
    case "last-recorded-apply":
      return `inputs from outside the files: VPN peer addresses ${list}, as recorded by the last apply (run ${r.runId} at ${r.at}); the VPN service was not asked`;
    case "not-recorded":
      return `inputs from outside the files: the last apply (run ${r.runId} at ${r.at}) did not record VPN peer addresses; this plan assumes none, so it may show firewall changes an apply would not make`;
    case "no-apply":
      return "inputs from outside the files: no apply recorded yet; the first apply asks the VPN service for the peer addresses (this plan assumes none)";
  }
}
