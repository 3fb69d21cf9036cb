// Table tests: each schema rule of user and platform files, passing and failing, with the error's place and words.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { parseStackFile, stackNameOfPath } from "./parse.js";
import { formatPositionedError } from "./positioned-error.js";

const ALICE = readFileSync(new URL("../stacks/alice.yaml", import.meta.url), "utf8");
const PLATFORM = readFileSync(new URL("../stacks/platform.yaml", import.meta.url), "utf8");
const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4N4jzWW5jRTjyVW2dB3e0ryh5PFdf4g4KQ/Pn alice@laptop";

type Obj = Record<string, unknown>;
const clone = (text: string) => parse(text) as Obj;
const inst0 = (o: Obj) => (o.instances as Obj[])[0] as Obj;

interface Row {
  rule: string;
  mutate: (o: Obj) => void;
  /** Expected: undefined = valid; otherwise [error code, a fragment of the message, data path label]. */
  error?: [code: string, fragment: string];
}

const USER_ROWS: Row[] = [
  { rule: "the example as written", mutate: () => {} },
  { rule: "apiVersion wrong", mutate: (o) => (o.apiVersion = "v1"), error: ["schema.invalid_value", 'apiVersion must be "proxstack.dev/v1"'] },
  { rule: "kind unknown", mutate: (o) => (o.kind = "User"), error: ["schema.invalid_value", 'kind must be one of "Platform", "UserStack"'] },
  { rule: "name not a DNS label", mutate: (o) => (o.name = "-alice"), error: ["schema.invalid_format", "name must be a DNS label"] },
  { rule: "name not the file name", mutate: (o) => (o.name = "alicia"), error: ["file.name-mismatch", 'must be named "alice", not "alicia"'] },
  {
    rule: "owner e-mail invalid",
    mutate: (o) => ((o.owner as Obj).email = "alice"),
    error: ["schema.invalid_format", "owner.email must be an e-mail address"],
  },
  { rule: "owner missing", mutate: (o) => delete o.owner, error: ["schema.invalid_type", 'the file is missing the required key "owner"'] },
  { rule: "linuxUser with a leading underscore", mutate: (o) => (o.linuxUser = "_alice") },
  { rule: "linuxUser upper case", mutate: (o) => (o.linuxUser = "Alice"), error: ["schema.invalid_format", "linuxUser must be a Linux user name"] },
  { rule: "linuxUser 33 characters", mutate: (o) => (o.linuxUser = "a".repeat(33)), error: ["schema.invalid_format", "at most 32 characters"] },
  { rule: "linuxUser reserved (root)", mutate: (o) => (o.linuxUser = "root"), error: ["schema.invalid_format", "linuxUser is a reserved system account"] },
  {
    rule: "linuxUser reserved (systemd-network)",
    mutate: (o) => (o.linuxUser = "systemd-network"),
    error: ["schema.invalid_format", "reserved system account"],
  },
  { rule: "linuxUser merely starting like a reserved name", mutate: (o) => (o.linuxUser = "rooted") },
  { rule: "no SSH keys", mutate: (o) => (o.sshKeys = []), error: ["schema.too_small", "sshKeys must list at least one SSH public key"] },
  {
    rule: "SSH key of an unsupported type",
    mutate: (o) => (o.sshKeys = ["ssh-dss AAAAB3NzaC1kc3MAAACBAP1 x"]),
    error: ["schema.invalid_format", "sshKeys[0] must be one OpenSSH public key line"],
  },
  {
    rule: "SSH key whose body does not decode",
    mutate: (o) => (o.sshKeys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4 x"]),
    error: ["file.ssh-key", "sshKeys[0] does not decode"],
  },
  {
    rule: "SSH key body of another type",
    mutate: (o) => (o.sshKeys = [ED25519.replace("ssh-ed25519", "ssh-rsa")]),
    error: ["file.ssh-key", "sshKeys[0] does not decode"],
  },
  { rule: "SSH key without comment", mutate: (o) => (o.sshKeys = [ED25519.split(" ").slice(0, 2).join(" ")]) },
  {
    rule: "the same SSH key twice",
    mutate: (o) => (o.sshKeys = [ED25519, ED25519.replace("laptop", "phone")]),
    error: ["file.ssh-key-duplicate", "sshKeys[1] is the same key as sshKeys[0]"],
  },
  { rule: "no instances", mutate: (o) => (o.instances = []) },
  { rule: "instances left out (default [])", mutate: (o) => delete o.instances },
  {
    rule: "instance names repeated",
    mutate: (o) => (((o.instances as Obj[])[1] as Obj).name = "web"),
    error: ["file.instance-duplicate", 'instances[1].name "web" is already used by instances[0]'],
  },
  { rule: "instance name upper case", mutate: (o) => (inst0(o).name = "Web"), error: ["schema.invalid_format", "instances[0].name must be a DNS label"] },
  {
    rule: "instance name 64 characters",
    mutate: (o) => (inst0(o).name = "a".repeat(64)),
    error: ["schema.too_big", "instances[0].name must be at most 63 characters"],
  },
  { rule: "template missing", mutate: (o) => delete inst0(o).template, error: ["schema.invalid_type", 'instances[0] is missing the required key "template"'] },
  { rule: "plan not text", mutate: (o) => (inst0(o).plan = 3), error: ["schema.invalid_type", "instances[0].plan must be text, not 3"] },
  { rule: "power stopped", mutate: (o) => (inst0(o).power = "stopped") },
  { rule: "power left out (default running)", mutate: (o) => delete inst0(o).power },
  {
    rule: "power on",
    mutate: (o) => (inst0(o).power = "on"),
    error: ["schema.invalid_value", 'instances[0].power must be one of "running", "stopped", not the text "on"'],
  },
  { rule: "vmid and ip left out", mutate: (o) => (delete inst0(o).vmid, delete inst0(o).ip) },
  { rule: "vmid 99", mutate: (o) => (inst0(o).vmid = 99), error: ["schema.too_small", "instances[0].vmid must be a Proxmox VMID from 100 to 999999999"] },
  { rule: "vmid 1e9", mutate: (o) => (inst0(o).vmid = 1_000_000_000), error: ["schema.too_big", "from 100 to 999999999"] },
  { rule: "vmid fractional", mutate: (o) => (inst0(o).vmid = 2001.5), error: ["schema.invalid_type", "instances[0].vmid must be a whole number"] },
  { rule: "ip with a leading zero", mutate: (o) => (inst0(o).ip = "10.10.0.021"), error: ["schema.invalid_format", "instances[0].ip must be an IPv4 address"] },
  { rule: "ip 256 in an octet", mutate: (o) => (inst0(o).ip = "10.10.0.256"), error: ["schema.invalid_format", "must be an IPv4 address"] },
  { rule: "domains left out", mutate: (o) => delete inst0(o).domains },
  {
    rule: "domain subdomain with underscore",
    mutate: (o) => (((inst0(o).domains as Obj[])[0] as Obj).subdomain = "w_w"),
    error: ["schema.invalid_format", "instances[0].domains[0].subdomain must be a DNS label"],
  },
  {
    rule: "domain subdomain ending in '-'",
    mutate: (o) => (((inst0(o).domains as Obj[])[0] as Obj).subdomain = "www-"),
    error: ["schema.invalid_format", "must be a DNS label"],
  },
  { rule: "domain port 65535", mutate: (o) => (((inst0(o).domains as Obj[])[0] as Obj).port = 65535) },
  {
    rule: "domain port 65536",
    mutate: (o) => (((inst0(o).domains as Obj[])[0] as Obj).port = 65536),
    error: ["schema.too_big", "instances[0].domains[0].port must be 1–65535"],
  },
  { rule: "domain port 0", mutate: (o) => (((inst0(o).domains as Obj[])[0] as Obj).port = 0), error: ["schema.too_small", "must be 1–65535"] },
  {
    rule: "domain port missing",
    mutate: (o) => delete ((inst0(o).domains as Obj[])[0] as Obj).port,
    error: ["schema.invalid_type", 'instances[0].domains[0] is missing the required key "port"'],
  },
  {
    rule: "snapshot schedule of four fields",
    mutate: (o) => ((inst0(o).snapshots as Obj).schedule = "0 3 * *"),
    error: ["schema.invalid_format", "five-field cron"],
  },
  {
    rule: "snapshot schedule at hour 25",
    mutate: (o) => ((inst0(o).snapshots as Obj).schedule = "0 25 * * *"),
    error: ["schema.custom", "instances[0].snapshots.schedule must be a cron expression with minute 0-59, hour 0-23"],
  },
  {
    rule: "backup schedule with a step of 0",
    mutate: (o) => (inst0(o).backups = { schedule: "*/0 4 * * 0" }),
    error: ["schema.custom", "instances[0].backups.schedule must be a cron expression with minute 0-59"],
  },
  { rule: "snapshot schedule with names", mutate: (o) => ((inst0(o).snapshots as Obj).schedule = "30 2 * jan-mar mon-fri") },
  { rule: "snapshot keep left out (default 7)", mutate: (o) => delete (inst0(o).snapshots as Obj).keep },
  {
    rule: "snapshot keep 31",
    mutate: (o) => ((inst0(o).snapshots as Obj).keep = 31),
    error: ["schema.too_big", "instances[0].snapshots.keep must be at most 30, not 31"],
  },
  { rule: "protect not boolean", mutate: (o) => (inst0(o).protect = "yes"), error: ["schema.invalid_type", "instances[0].protect must be true or false"] },
  { rule: "rate limit fractional", mutate: (o) => (inst0(o).rateLimitMBps = 12.5) },
  { rule: "rate limit zero", mutate: (o) => (inst0(o).rateLimitMBps = 0), error: ["schema.too_small", "instances[0].rateLimitMBps must be greater than 0"] },
  {
    rule: "unknown instance key",
    mutate: (o) => (inst0(o).tempalte = "x"),
    error: ["schema.unrecognized_keys", 'instances[0] has an unknown key "tempalte" (did you mean "template"?)'],
  },
  { rule: "suspension with note", mutate: (o) => (o.suspension = { reason: "admin", since: "2026-11-25T10:00:00+01:00", note: "ask support" }) },
  {
    rule: "suspension reason unknown",
    mutate: (o) => (o.suspension = { reason: "late", since: "2026-11-25T10:00:00Z" }),
    error: ["schema.invalid_value", 'suspension.reason must be one of "points-exhausted", "admin"'],
  },
  {
    rule: "suspension since without zone",
    mutate: (o) => (o.suspension = { reason: "admin", since: "2026-11-25T10:00:00" }),
    error: ["schema.invalid_format", "suspension.since must be an ISO 8601 date and time with a time zone"],
  },
  {
    rule: "suspension note too long",
    mutate: (o) => (o.suspension = { reason: "admin", since: "2026-11-25T10:00:00Z", note: "x".repeat(501) }),
    error: ["schema.too_big", "suspension.note must be at most 500 characters long"],
  },
];

const PLATFORM_ROWS: Row[] = [
  { rule: "the example as written", mutate: () => {} },
  { rule: "no nodes", mutate: (o) => ((o.proxmox as Obj).nodes = []), error: ["schema.too_small", "proxmox.nodes must list at least one Proxmox node"] },
  {
    rule: "bridge with a space",
    mutate: (o) => ((o.proxmox as Obj).bridge = "vmbr 0"),
    error: ["schema.invalid_format", "proxmox.bridge must be a Linux bridge name"],
  },
  { rule: "datastore left out (default)", mutate: (o) => delete (o.proxmox as Obj).datastore },
  {
    rule: "vmid range reversed",
    mutate: (o) => ((o.proxmox as Obj).vmidRange = { from: 3000, to: 2000 }),
    error: ["schema.custom", "proxmox.vmidRange.to must not be less than from"],
  },
  {
    rule: "pool not CIDR",
    mutate: (o) => ((o.network as Obj).pool = "10.10.0.0"),
    error: ["schema.invalid_format", "network.pool must be an IPv4 network in CIDR form"],
  },
  { rule: "pool /33", mutate: (o) => ((o.network as Obj).pool = "10.10.0.0/33"), error: ["schema.invalid_format", "CIDR form"] },
  {
    rule: "gateway outside the pool",
    mutate: (o) => ((o.network as Obj).gateway = "10.11.0.1"),
    error: ["schema.custom", "network.gateway must lie inside the pool 10.10.0.0/24"],
  },
  { rule: "reserved single address", mutate: (o) => ((o.network as Obj).reserved = ["10.10.0.1"]) },
  {
    rule: "reserved range outside the pool",
    mutate: (o) => ((o.network as Obj).reserved = ["10.10.0.250-10.10.1.5"]),
    error: ["schema.custom", "network.reserved[0] must lie inside the pool"],
  },
  {
    rule: "reserved range reversed",
    mutate: (o) => ((o.network as Obj).reserved = ["10.10.0.9-10.10.0.1"]),
    error: ["schema.custom", "must run from the lower address to the higher one"],
  },
  {
    rule: "reserved range malformed",
    mutate: (o) => ((o.network as Obj).reserved = ["10.10.0.1-"]),
    error: ["schema.invalid_format", "network.reserved[0] must be an IPv4 address or an inclusive range"],
  },
  {
    rule: "VPN endpoint without port",
    mutate: (o) => ((o.vpn as Obj).endpoint = "vpn.example.com"),
    error: ["schema.invalid_format", "vpn.endpoint must be HOST:PORT"],
  },
  { rule: "base domain of one label", mutate: (o) => (o.baseDomain = "localhost"), error: ["schema.invalid_format", "baseDomain must be a domain name"] },
  { rule: "base domain with upper case", mutate: (o) => (o.baseDomain = "Example.com"), error: ["schema.invalid_format", "baseDomain must be a domain name"] },
  {
    rule: "base domain of 254 characters",
    mutate: (o) => (o.baseDomain = `${"a".repeat(60)}.`.repeat(4) + "a".repeat(10)),
    error: ["schema.too_big", "baseDomain must be at most 253 characters"],
  },
  {
    rule: "account id upper case",
    mutate: (o) => ((o.cloudflare as Obj).accountId = "0123456789ABCDEF0123456789ABCDEF"),
    error: ["schema.invalid_format", "cloudflare.accountId must be a 32-character lower-case hex id"],
  },
  {
    rule: "a token in the file",
    mutate: (o) => ((o.cloudflare as Obj).apiToken = "secret"),
    error: ["schema.unrecognized_keys", 'cloudflare has an unknown key "apiToken"'],
  },
  {
    rule: "template of neither form",
    mutate: (o) => ((o.templates as Obj)["debian-12"] = { description: "x" }),
    error: ["schema.invalid_union", "templates.debian-12 must take one of these forms: {clone} or {osTemplate, osType}"],
  },
  {
    rule: "template with osTemplate but a bad volume",
    mutate: (o) => ((o.templates as Obj)["ubuntu-24"] = { osTemplate: "ubuntu.tar", osType: "ubuntu" }),
    error: ["schema.invalid_format", "templates.ubuntu-24.osTemplate must be a Proxmox volume id"],
  },
  {
    rule: "template clone inside the VMID range",
    mutate: (o) => ((o.templates as Obj)["debian-12"] = { clone: { vmid: 2500 } }),
    error: ["schema.custom", "templates.debian-12.clone.vmid must lie outside proxmox.vmidRange"],
  },
  {
    rule: "template name not a label",
    mutate: (o) => ((o.templates as Obj).Debian = { clone: { vmid: 9001 } }),
    error: ["schema.invalid_key", 'templates has a key "Debian" that must be a DNS label'],
  },
  { rule: "no templates", mutate: (o) => (o.templates = {}), error: ["schema.custom", "templates must list at least one template"] },
  {
    rule: "plan without cores",
    mutate: (o) => delete ((o.plans as Obj).small as Obj).cores,
    error: ["schema.invalid_type", 'plans.small is missing the required key "cores"'],
  },
  {
    rule: "plan with 0 cores",
    mutate: (o) => (((o.plans as Obj).small as Obj).cores = 0),
    error: ["schema.too_small", "plans.small.cores must be at least 1, not 0"],
  },
  {
    rule: "plan with negative price",
    mutate: (o) => (((o.plans as Obj).small as Obj).pointsPerDay = -1),
    error: ["schema.too_small", "plans.small.pointsPerDay must be at least 0"],
  },
  { rule: "quota missing", mutate: (o) => delete o.quotas, error: ["schema.invalid_type", 'the file is missing the required key "quotas"'] },
  { rule: "domains pricing left out (defaults)", mutate: (o) => delete o.domains },
  {
    rule: "removal policy unknown",
    mutate: (o) => (o.removalPolicy = "keep"),
    error: ["schema.invalid_value", 'removalPolicy must be one of "destroy", "retain", not the text "keep"'],
  },
];

function check(path: string, base: string, row: Row) {
  const o = clone(base);
  row.mutate(o);
  const r = parseStackFile(path, stringify(o));
  if (row.error === undefined) {
    expect(r.ok ? [] : r.errors.map(formatPositionedError)).toEqual([]);
    return;
  }
  expect(r.ok).toBe(false);
  if (r.ok) return;
  const [code, fragment] = row.error;
  const hit = r.errors.find((e) => e.code === code && e.message.includes(fragment));
  expect(hit, `got ${r.errors.map((e) => `${e.code} ${e.message}`).join(" | ")}`).toBeDefined();
  expect(hit?.line).toBeGreaterThanOrEqual(1);
  expect(hit?.col).toBeGreaterThanOrEqual(1);
}

describe("user stack rules", () => {
  it.each(USER_ROWS.map((r) => [r.rule, r] as const))("%s", (_, row) => check("stacks/alice.yaml", ALICE, row));
});

describe("platform rules", () => {
  it.each(PLATFORM_ROWS.map((r) => [r.rule, r] as const))("%s", (_, row) => check("stacks/platform.yaml", PLATFORM, row));
});

describe("positions", () => {
  it("points at the offending value, and at the parent of a missing key", () => {
    const text = [
      "apiVersion: proxstack.dev/v1",
      "kind: UserStack",
      "name: alice",
      "owner:",
      "  email: alice@example.com",
      "linuxUser: alice",
      "sshKeys:",
      `  - ${ED25519}`,
      "instances:",
      "  - name: web",
      "    template: debian-12",
      "    power: off",
    ].join("\n");
    const r = parseStackFile("stacks/alice.yaml", text);
    expect(r.ok ? [] : r.errors.map(formatPositionedError)).toEqual([
      'stacks/alice.yaml:10:5: instances[0] is missing the required key "plan"',
      'stacks/alice.yaml:12:12: instances[0].power must be one of "running", "stopped", not the text "off"',
    ]);
  });

  it("points at an unknown key itself and at the value of a known one", () => {
    const r = parseStackFile(
      "x.yaml",
      'apiVersion: proxstack.dev/v1\nkind: UserStack\nname: x\nowner: { email: a@b.co }\nlinuxUser: x\nsshKeys: ["' + ED25519 + '"]\n  \nextra: 1\n',
    );
    expect(r.ok ? [] : r.errors.map(formatPositionedError)).toEqual([
      'x.yaml:8:1: the file has an unknown key "extra"; allowed keys are apiVersion, kind, name, owner, linuxUser, sshKeys, instances, suspension',
    ]);
  });

  it("follows aliases to the value they stand for", () => {
    const r = parseStackFile(
      "x.yaml",
      `apiVersion: proxstack.dev/v1\nkind: UserStack\nname: x\nowner: { email: a@b.co }\nlinuxUser: x\nsshKeys: ["${ED25519}"]\ninstances:\n  - &i { name: a, template: t, plan: p, power: up }\n  - *i\n`,
    );
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]?.line).toBe(8);
  });

  it("accepts a UTF-8 byte-order mark and bytes as input", () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(ALICE)]);
    expect(parseStackFile("stacks/alice.yaml", bytes).ok).toBe(true);
  });

  it("refuses a file over the size limit given in options", () => {
    const r = parseStackFile("stacks/alice.yaml", ALICE, { maxBytes: 100 });
    expect(r.ok ? "" : formatPositionedError(r.errors[0]!)).toBe(
      `stacks/alice.yaml:1:1: the file is ${Buffer.byteLength(ALICE)} bytes; a stack file may be at most 100 bytes`,
    );
  });

  it("refuses a 256 KiB file of 32k keys before the YAML reader sees it, naming the line of the first key too many", () => {
    const keys = Array.from({ length: 32_000 }, (_, i) => `k${i}: 1`);
    const text = `${ALICE}extra:\n${keys.map((k) => `  ${k}`).join("\n")}\n`;
    expect(Buffer.byteLength(text)).toBeGreaterThan(256_000);
    const r = parseStackFile("stacks/alice.yaml", text, { maxBytes: 1024 * 1024 });
    // The example's own keys and colons come first; the limit falls inside the extra keys.
    const entriesBefore = [...ALICE.matchAll(/:(?=[\s,\]}]|$)|["']:|(?:^|[\s[])-(?=\s|$)|,/gm)].length + 1;
    const line = ALICE.split("\n").length + 1 + (2000 - entriesBefore);
    expect(r.ok ? [] : r.errors.map(formatPositionedError)).toEqual([
      `stacks/alice.yaml:${line}:1: the file has more than 2000 keys and list items (this is number 2001); a stack file needs a few hundred at most`,
    ]);
  });

  it("refuses more than 5000 lines, and a flow mapping with more than 2000 keys on one line", () => {
    const lines = parseStackFile("stacks/alice.yaml", `${ALICE}${"# note\n".repeat(6000)}`);
    expect(lines.ok ? [] : lines.errors.map((e) => [e.code, e.line, e.col])).toEqual([["yaml.too-many-lines", 5001, 1]]);
    const flow = `extra: {${Array.from({ length: 3000 }, (_, i) => `k${i}: 1`).join(", ")}}\n`;
    const r = parseStackFile("stacks/alice.yaml", `${ALICE}${flow}`);
    expect(r.ok ? [] : r.errors.map((e) => [e.code, e.line])).toEqual([["yaml.too-many-entries", ALICE.split("\n").length]]);
  });

  it("refuses any alias when the alias budget is 0", () => {
    const r = parseStackFile("x.yaml", "a: &x 1\nb: *x\n", { maxAliasCount: 0 });
    expect(r.ok ? "" : r.errors[0]?.code).toBe("yaml.alias-limit");
  });
});

describe("stackNameOfPath", () => {
  it.each([
    ["stacks/alice.yaml", "alice"],
    ["/abs/dir/bob.yml", "bob"],
    ["carol.json", undefined],
    ["-", undefined],
  ])("%s → %s", (path, name) => expect(stackNameOfPath(path)).toBe(name));
});
