// How one instance is shown: its file's desired state beside what the engine last observed, in plain words.
import type { z } from "zod";
import { tunnelHostname } from "../programs/naming.js";
import type { Instance, PlatformSpec, UserStackSpec } from "../schemas/index.js";
import { costOf } from "../stackfiles/cost.js";
import { REASONS } from "../engine/status/vocabulary.js";
import type { InstanceOut } from "./api-schemas.js";
import type { EngineView } from "./engine-view.js";

export type InstanceView = z.infer<typeof InstanceOut>;

export function instanceView(engine: EngineView, stack: string, spec: UserStackSpec, platform: PlatformSpec, inst: Instance): InstanceView {
  const status = engine.getStack(stack);
  const row = engine.listInstances(stack).find((i) => i.name === inst.name);
  const line = costOf(spec, platform).lines.find((l) => l.instance === inst.name);
  let state: InstanceView["state"];
  let reason: string | null = null;
  const stackWords = status ? `${REASONS[status.reason].doc}${status.message ? ` ${status.message}` : ""}` : null;
  if (status?.condition === "Stalled" && row?.state !== "ready") {
    state = "error";
    reason = stackWords;
  } else if (!row || row.state === "provisioning" || row.state === "destroyed") {
    state = "provisioning";
    reason = status && status.condition !== "Ready" ? stackWords : null;
  } else if (row.state === "hook-failed") {
    state = "error";
    reason = stackWords ?? "a post-deploy step failed; the engine retries it";
  } else {
    state = row.power;
    if (status && status.condition !== "Ready") reason = stackWords;
  }
  return {
    id: `${stack}.${inst.name}`,
    stack,
    name: inst.name,
    template: inst.template,
    plan: inst.plan,
    power: inst.power,
    state,
    reason,
    vmid: row?.vmid ?? inst.vmid ?? null,
    ip: row?.ip ?? inst.ip ?? null,
    hostnames: inst.domains.map((d) => tunnelHostname(stack, inst.name, d.subdomain, platform.baseDomain)),
    protected: inst.protect,
    pointsPerDay: line?.perDay ?? 0,
  };
}
