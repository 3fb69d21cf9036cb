// Benchmark: validating 10,000 generated user files with every cross-file invariant, against plain parse + schema.
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { UserStackSpecSchema } from "../schemas/index.js";
import { createStackSetValidator, validateStackSet, type StackFileInput } from "../stackfiles/validate.js";
import type { Bench } from "./bench.js";

const USERS = 10_000;

/** A real, distinct ed25519 public key line per user (so SSH key decoding is not a cache hit). */
function ed25519Line(comment: string): string {
  const der = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "der" });
  const raw = der.subarray(der.length - 32);
  const str = (b: Buffer) => Buffer.concat([Buffer.alloc(4), b]).fill(0, 0, 0);
  const part = (b: Buffer) => {
    const out = str(b);
    out.writeUInt32BE(b.length, 0);
    return out;
  };
  return `ssh-ed25519 ${Buffer.concat([part(Buffer.from("ssh-ed25519")), part(raw)]).toString("base64")} ${comment}`;
}

/** A platform with room for every generated allocation: VMIDs 100000–199999, the pool 10.0.0.0/8. */
export function platform(): StackFileInput {
  const text = readFileSync(new URL("../stacks/platform.yaml", import.meta.url), "utf8")
    .replace("vmidRange: { from: 2000, to: 2999 }", "vmidRange: { from: 100000, to: 199999 }")
    .replace("pool: 10.10.0.0/24", "pool: 10.0.0.0/8")
    .replace("gateway: 10.10.0.1", "gateway: 10.0.0.1")
    .replace("10.10.0.1-10.10.0.19", "10.0.0.1-10.0.0.19");
  return { path: "stacks/platform.yaml", text };
}

/** User i: two instances (one with two domains and snapshots, one without allocations). */
export function user(i: number): StackFileInput {
  const name = `u${i}`;
  const ip = (n: number) => `10.${Math.floor(n / 65536) % 256}.${Math.floor(n / 256) % 256}.${n % 256}`;
  const text = `# yaml-language-server: $schema=../schemas/json/user-stack.schema.json
apiVersion: proxstack.dev/v1
kind: UserStack
name: ${name}
owner:
  email: ${name}@example.com
linuxUser: ${name}
sshKeys:
  - ${ed25519Line(`${name}@laptop`)}
instances:
  - name: web
    template: debian-12
    plan: medium
    vmid: ${100_000 + i}
    ip: ${ip(256 + i)}
    domains:
      - { subdomain: www, port: 80 }
      - { subdomain: api, port: 8080 }   # extra
    snapshots: { schedule: "0 3 * * *", keep: 7 }
    protect: true
  - name: dev
    template: ubuntu-24
    plan: small
    power: stopped
`;
  return { path: `stacks/${name}.yaml`, text };
}

function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export const bench: Bench = {
  title: "Validating stack files",
  description:
    `validateStackSet over ${USERS.toLocaleString("en-US")} generated user files (two instances each, one real ed25519 key each) plus the platform file: ` +
    "safe YAML parsing (plain valid files through the js-yaml fast path, source positions built only for files with errors), the zod schema, SSH key decoding, name = file name, and every cross-file invariant " +
    "(templates, plans, quotas, ranges, DNS lengths, unique VMIDs, IPs and hostnames). Baseline, same files in the same run: " +
    "plain `yaml.parse` + `UserStackSpecSchema.safeParse`, without positions, key decoding or cross-file checks. Also: revalidating the set after one file changed " +
    "with `createStackSetValidator` (unchanged files' parse results reused, cross-file checks in full), and with its `revise` (only the changed file and the files sharing a VMID, address, hostname or stack name with it checked again: what the engine's watcher does since the incremental claim index). Best of 3 runs each, after a warm-up.",
  async run() {
    const files = [platform(), ...Array.from({ length: USERS }, (_, i) => user(i))];
    const texts = files.map((f) => f.text as string);
    const plain = () => {
      for (const t of texts.slice(1)) UserStackSpecSchema.safeParse(parse(t));
    };
    let report = validateStackSet(files.slice(0, 500));
    plain();
    let full = Infinity;
    let base = Infinity;
    for (let round = 0; round < 3; round++) {
      full = Math.min(
        full,
        time(() => (report = validateStackSet(files))),
      );
      base = Math.min(base, time(plain));
    }
    // The engine's watcher case: one file changed, the rest come from the validator's cache.
    const validator = createStackSetValidator();
    validator.validate(files);
    let warm = Infinity;
    for (let round = 0; round < 3; round++) {
      const changed = files.map((f, i) => (i === 1 + round ? { path: f.path, text: `${f.text as string}# edit ${round}\n` } : f));
      warm = Math.min(
        warm,
        time(() => (report = validator.validate(changed))),
      );
    }
    // The engine's case since the incremental path: only the changed file and those sharing a value with it are checked.
    let incremental = Infinity;
    let revised = 0;
    for (let round = 0; round < 3; round++) {
      const f = files[10 + round]!;
      incremental = Math.min(
        incremental,
        time(() => (revised = validator.revise({ files: [{ path: f.path, text: `${f.text as string}# edit ${round}\n` }] })?.files.length ?? -1)),
      );
    }
    if (revised !== 1) throw new Error(`revise should check exactly the edited file again, checked ${revised}`);
    if (!report.valid || report.users.length !== USERS) {
      throw new Error(`generated files should all be valid; first error: ${report.errors[0]?.message ?? "none"}`);
    }
    return [
      {
        name: `validate ${USERS.toLocaleString("en-US")} user files with cross-file checks`,
        value: full,
        unit: "ms",
        baseline: { name: "yaml.parse + safeParse", value: base },
        goal: "< 2000 ms",
        met: full < 2000,
      },
      {
        name: "revalidate after one file changed (createStackSetValidator cache)",
        value: warm,
        unit: "ms",
        baseline: { name: "full validation", value: full },
      },
      {
        name: "revise after one file changed (StackSetValidator.revise, the engine's incremental path)",
        value: incremental,
        unit: "ms",
        baseline: { name: "revalidate with the cache", value: warm },
      },
      {
        name: "throughput with cross-file checks",
        value: (USERS / full) * 1000,
        unit: "files/s",
        baseline: { name: "yaml.parse + safeParse", value: (USERS / base) * 1000 },
      },
    ];
  },
};
