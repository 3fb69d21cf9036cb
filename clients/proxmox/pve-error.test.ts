// pveError: PVE answers mapped to codes and kinds (what a caller does next), from the status, body and reason phrase.
import { describe, expect, it } from "vitest";
import { pveError } from "./client.js";

const req = { method: "POST" as const, path: "/nodes/pve1/lxc/101/status/start", params: {} };
const body = (message: string, errors?: Record<string, string>) => JSON.stringify({ data: null, message: `${message}\n`, ...(errors ? { errors } : {}) });

describe("pveError", () => {
  it.each([
    [400, "Parameter verification failed.", body("Parameter verification failed.", { vmid: "value must have a minimum value of 100" }), "pve.param", "stall"],
    [401, "No ticket", "", "pve.auth", "stall"],
    [403, "Permission check failed (/vms/101, VM.PowerMgmt)", body("Permission check failed (/vms/101, VM.PowerMgmt)"), "pve.permission", "stall"],
    [500, "can't lock file", body("can't lock file '/run/lock/lxc/pve-config-101.lock' - got timeout"), "pve.lock-timeout", "retry"],
    [500, "CT is locked (create)", body("CT is locked (create)"), "pve.locked", "retry"],
    [500, "x", body("Configuration file 'nodes/pve1/lxc/101.conf' does not exist"), "pve.not-found", "stall"],
    [500, "x", body("CT 101 already exists on node 'pve1'"), "pve.conflict", "stall"],
    [500, "x", body("CT 101 already running"), "pve.refused", "stall"],
    [500, "x", body("got unexpected EOF from backend"), "pve.server", "retry"],
    [596, "Connection timed out", "", "pve.server", "retry"],
    [501, "Method 'GET /x' not implemented", body("Method 'GET /x' not implemented"), "pve.not-implemented", "bug"],
  ])("%i %s → %s", (status, reason, text, code, kind) => {
    const err = pveError(req, { status, reason, body: text });
    expect([err.code, err.kind, err.status]).toEqual([code, kind, status]);
  });
  it("keeps per-field messages and reads the reason phrase when the body has none (PVE ≤ 8.3)", () => {
    const e = pveError(req, {
      status: 400,
      reason: "Parameter verification failed.",
      body: body("Parameter verification failed.", { net0: "invalid format - format error\nnet0.ip: bad" }),
    });
    expect(e.fields).toEqual({ net0: "invalid format - format error\nnet0.ip: bad" });
    expect(e.message).toBe("proxmox: POST /nodes/pve1/lxc/101/status/start: Parameter verification failed. (net0: invalid format - format error net0.ip: bad)");
    const old = pveError(req, { status: 500, reason: "CT 101 not running", body: "" });
    expect([old.code, old.message]).toEqual(["pve.refused", "proxmox: POST /nodes/pve1/lxc/101/status/start: CT 101 not running"]);
  });
});
