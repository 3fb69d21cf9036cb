// --faults LIST: every knob the simulators have, routed to the simulators that have it; bad lists named exactly.
import { describe, expect, it } from "vitest";
import { ProxstackError } from "../lib/errors.js";
import { faultsForAbsentSimulators, faultsLabel, parseFaults } from "./faults.js";

describe("parseFaults", () => {
  it.each([
    ["errorRate=0.2,lockTimeoutRate=0.1", { pve: { errorRate: 0.2, lockTimeoutRate: 0.1 } }],
    ["errorRate=1", { pve: { errorRate: 1 } }],
    ["errorRate=.5", { pve: { errorRate: 0.5 } }],
    ["lockTimeouts=3,stuckTasks", { pve: { lockTimeouts: 3, stuckTasks: true } }],
    ["stuckTasks=false", { pve: { stuckTasks: false } }],
    ["failTasks=disk on fire", { pve: { failTasks: "disk on fire" } }],
    ["rateLimitNext=2", { cloudflare: { rateLimitNext: 2 } }],
    ["latencyMs=50", { pve: { latencyMs: 50 }, cloudflare: { latencyMs: 50 } }],
    ["cloudflare.latencyMs=50, pve.errorRate=0.3", { pve: { errorRate: 0.3 }, cloudflare: { latencyMs: 50 } }],
  ])("%s", (list, want) => {
    expect(parseFaults(list)).toEqual(want);
  });

  it.each([
    ["", "--faults: empty list; e.g. errorRate=0.2,lockTimeoutRate=0.1"],
    ["errorRate=0.2,", "--faults: empty entry in 'errorRate=0.2,'"],
    ["bogus=1", "--faults: unknown fault 'bogus'; known: errorRate, lockTimeoutRate, lockTimeouts, stuckTasks, failTasks, rateLimitNext, latencyMs"],
    ["errorRate=2", "--faults: errorRate is a share from 0 to 1 such as 0.2, got '2'"],
    ["errorRate=1.5", "--faults: errorRate is a share from 0 to 1 such as 0.2, got '1.5'"],
    ["errorRate=-0.1", "--faults: errorRate is a share from 0 to 1 such as 0.2, got '-0.1'"],
    ["errorRate", "--faults: errorRate needs a value: errorRate=…"],
    ["lockTimeouts=two", "--faults: lockTimeouts is a whole number of requests, got 'two'"],
    ["latencyMs=90000", "--faults: latencyMs is whole milliseconds from 0 to 60000, got '90000'"],
    ["stuckTasks=yes", "--faults: stuckTasks is true or false, got 'yes'"],
    ["cloudflare.errorRate=0.1", "--faults: the cloudflare simulator has no 'errorRate' (it is pve only)"],
    ["aws.latencyMs=1", "--faults: unknown simulator 'aws' in 'aws.latencyMs'; use pve. or cloudflare."],
    ["errorRate=0.1,errorRate=0.2", "--faults: 'errorRate' is given twice for pve"],
    ["toString=1", "--faults: unknown fault 'toString'; known: errorRate, lockTimeoutRate, lockTimeouts, stuckTasks, failTasks, rateLimitNext, latencyMs"],
  ])("refuses %j", (list, message) => {
    let err: unknown;
    try {
      parseFaults(list);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProxstackError);
    expect((err as ProxstackError).code).toBe("faults.invalid");
    expect((err as ProxstackError).message).toBe(message);
  });
});

describe("faultsLabel and faultsForAbsentSimulators", () => {
  it("labels per simulator, empty without faults", () => {
    expect(faultsLabel(parseFaults("errorRate=0.2,lockTimeoutRate=0.1,cloudflare.latencyMs=5"))).toBe(
      "pve errorRate=0.2 lockTimeoutRate=0.1; cloudflare latencyMs=5",
    );
    expect(faultsLabel({})).toBe("");
  });
  it("names faults meant for a simulator that does not run", () => {
    const f = parseFaults("errorRate=0.2,rateLimitNext=1");
    expect(faultsForAbsentSimulators(f, { pve: true, cloudflare: true })).toEqual([]);
    expect(faultsForAbsentSimulators(f, { pve: false, cloudflare: true })).toEqual(["pve.errorRate (Proxmox is real: PROXMOX_VE_ENDPOINT is set)"]);
    expect(faultsForAbsentSimulators(f, { pve: true, cloudflare: false })).toEqual([
      "cloudflare.rateLimitNext (Cloudflare is real: CLOUDFLARE_API_TOKEN is set)",
    ]);
  });
});
