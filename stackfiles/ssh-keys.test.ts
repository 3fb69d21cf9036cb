// SSH public keys decoded for real: every type ssh-keygen makes that we accept, and the ways a key line goes wrong.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { skipUnless } from "../test/loud-skip.js";
import { SSH_PUBLIC_KEY_LINE } from "../schemas/index.js";
import fc from "fast-check";
import { isPlainEd25519, sshKeyProblem, sshKeyProblemDecoded } from "./ssh-keys.js";

const dir = mkdtempSync(join(tmpdir(), "sshkeys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hasKeygen = (() => {
  try {
    execFileSync("ssh-keygen", ["-?"], { stdio: "ignore" });
    return true;
  } catch (err) {
    return (err as { status?: number }).status !== undefined && (err as { code?: string }).code !== "ENOENT";
  }
})();

/** A fresh public key line from the real ssh-keygen. */
let made = 0;
function keygen(type: string, bits?: number): string {
  const file = join(dir, `${type}-${bits ?? 0}-${made++}`);
  execFileSync("ssh-keygen", ["-q", "-t", type, ...(bits ? ["-b", String(bits)] : []), "-N", "", "-C", "test@host", "-f", file]);
  return readFileSync(`${file}.pub`, "utf8").trim();
}

const skip = skipUnless(
  hasKeygen ? { ok: true } : { ok: false, why: "ssh-keygen is missing (Debian package openssh-client)" },
  "stackfiles/ssh-keys real keys",
);

describe.skipIf(skip)("keys made by ssh-keygen", () => {
  it.each([
    ["ed25519", undefined],
    ["ecdsa", 256],
    ["ecdsa", 384],
    ["ecdsa", 521],
    ["rsa", 2048],
    ["rsa", 3072],
  ])("%s %s is accepted by the schema's pattern and decodes", (type, bits) => {
    const line = keygen(type, bits);
    expect(SSH_PUBLIC_KEY_LINE.test(line)).toBe(true);
    expect(sshKeyProblem(line)).toBeUndefined();
  });

  it("refuses an RSA key under 2048 bits", () => {
    expect(sshKeyProblem(keygen("rsa", 1024))).toBe("is an RSA key of 1024 bits; RSA keys need at least 2048 bits (or use ssh-ed25519)");
  });

  it("refuses a key whose body was cut or padded", () => {
    const line = keygen("ed25519");
    const [type, body] = line.split(" ");
    expect(sshKeyProblem(`${type} ${body?.slice(0, -8)}`)).toMatch(/^does not decode as an SSH public key/);
    const padded = Buffer.concat([Buffer.from(body ?? "", "base64"), Buffer.from([0, 0, 0])]).toString("base64");
    expect(sshKeyProblem(`${type} ${padded}`)).toBe("has trailing bytes after the key; paste the line of your .pub file unchanged");
  });

  it("refuses a body of another type than the line says", () => {
    const [, body] = keygen("ed25519").split(" ");
    expect(sshKeyProblem(`ecdsa-sha2-nistp256 ${body}`)).toMatch(/^does not decode/);
  });
});

describe("schema pattern for key lines", () => {
  it.each([
    ["ssh-dss AAAAB3NzaC1kc3MAAACB", false],
    ["sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t", false],
    ['from="10.0.0.1" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5', false],
    ["ssh-ed25519  AAAAC3NzaC1lZDI1NTE5", false],
    ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\nssh-rsa AAAA", false],
    ["-----BEGIN OPENSSH PRIVATE KEY-----", false],
    ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 a comment with spaces", true],
  ])("%j matches: %s", (line, ok) => expect(SSH_PUBLIC_KEY_LINE.test(line)).toBe(ok));
});

describe("the ssh-ed25519 shortcut", () => {
  const blob = (key: Buffer, prefix = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32])])) =>
    Buffer.concat([prefix, key]).toString("base64");

  it("accepts exactly what ssh2 accepts: random keys, wrong lengths, wrong prefixes, trailing bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 30, maxLength: 34 }), fc.nat({ max: 18 }), fc.boolean(), (key, flip, corrupt) => {
        const prefix = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32])]);
        if (corrupt) prefix[flip] = (prefix[flip] ?? 0) ^ 1;
        const line = `ssh-ed25519 ${blob(Buffer.from(key), prefix)} c@h`;
        const [type, body] = line.split(" ");
        if (isPlainEd25519(type, body)) expect(sshKeyProblemDecoded(line)).toBeUndefined();
        expect(sshKeyProblem(line)).toBe(sshKeyProblemDecoded(line));
      }),
      { numRuns: 300 },
    );
  });

  it("takes the shortcut for a well-formed key (so the parity above is not vacuous)", () => {
    const [type, body] = `ssh-ed25519 ${blob(Buffer.alloc(32, 7))}`.split(" ");
    expect(isPlainEd25519(type, body)).toBe(true);
    expect(isPlainEd25519("ssh-rsa", body)).toBe(false);
    expect(isPlainEd25519(type, `${body?.slice(0, -2)}A=`)).toBe(false);
  });
});
