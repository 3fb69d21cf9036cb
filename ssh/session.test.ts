import { execFile } from "node:child_process";
import fc from "fast-check";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../lib/clock.js";
import { skipUnless } from "../test/loud-skip.js";
import { canRunSshTestHosts, createSshTestHost, type SshTestHost } from "../testhosts/ssh-host.js";
import { createHostKeyStore } from "./host-keys.js";
import { generateSshKeyPair } from "./keygen.js";
import { openSshSession, sftpOps, shellQuote, type SshSession } from "./session.js";

/** What a real POSIX shell makes of a command line: each word on its own line, NUL-separated. */
function words(commandLine: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    execFile("sh", ["-c", `printf '%s\\0' ${commandLine}`], (err, out) => (err ? reject(err) : resolve(out.split("\0").slice(0, -1)))),
  );
}

describe("shellQuote", () => {
  it.each(["plain", "", "a b", "it's", "$(touch /tmp/pxs-pwned)", "`id`", "a;b|c&d", "line\nbreak", '"dq"', "*", "~root", "\\"])(
    "keeps %j one literal word in a real shell",
    async (arg) => {
      expect(await words(`${shellQuote(arg)} ${shellQuote("next")}`)).toEqual([arg, "next"]);
    },
  );

  it("keeps arbitrary strings literal (property, real sh)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.string({ unit: "binary" }).filter((s) => !s.includes("\0")),
          { minLength: 1, maxLength: 4 },
        ),
        async (args) => {
          expect(await words(args.map(shellQuote).join(" "))).toEqual(args);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("refuses a NUL byte, which no argument can carry", () => {
    expect(() => shellQuote("a\0b")).toThrow(/NUL/);
  });
});

const skip = skipUnless(await canRunSshTestHosts(), "ssh sessions against real sshd");

describe.skipIf(skip)("ssh sessions against a hostile container (real sshd in a test host)", () => {
  let host: SshTestHost;
  let session: SshSession;
  const key = generateSshKeyPair("ed25519");
  const hostKeys = createHostKeyStore(":memory:", systemClock);
  beforeAll(async () => {
    host = await createSshTestHost({ rootAuthorizedKeys: [key.public] });
    session = await openSshSession({
      host: host.address,
      port: host.port,
      username: "root",
      privateKey: Buffer.from(key.private),
      hostKeys,
      readyTimeoutMs: 5000,
      commandTimeoutMs: 3000,
    });
  });
  afterAll(async () => {
    session?.end();
    hostKeys.close();
    await host?.destroy();
  });

  it.each([
    ["stdout", "head -c 67108864 /dev/zero"],
    ["stderr", "head -c 67108864 /dev/zero >&2"],
  ])("closes the channel once a command writes more than 1 MiB to %s", async (stream, cmd) => {
    await expect(session.exec(["sh", "-c", cmd])).rejects.toMatchObject({
      code: "ssh-output-too-large",
      kind: "retry",
      message: `${host.address}:22: sh wrote more than 1048576 bytes to ${stream}; closed its channel`,
    });
    // The session is still usable: only that command's channel was closed.
    expect(await session.exec(["id", "-u"])).toEqual({ code: 0, stdout: "0\n", stderr: "" });
  });

  it("closes the channel of a command that runs past its step timeout", async () => {
    await expect(session.exec(["sleep", "30"])).rejects.toMatchObject({
      code: "ssh-step-timeout",
      message: `${host.address}:22: sleep did not finish within 3s; closed its channel`,
    });
  });

  it("refuses to read a file over 64 KiB, a 3G sparse file included, and reads one at the limit", async () => {
    await host.exec("sh", ["-c", "truncate -s 3G /root/big && head -c 65536 /dev/zero | tr '\\0' k > /root/limit && ln -s /etc/shadow /root/link"]);
    const fs = sftpOps(await session.sftp());
    await expect(fs.readFile("/root/big")).rejects.toMatchObject({
      code: "ssh-file-too-large",
      message: "/root/big is 3221225472 bytes; files over 65536 bytes are not read",
    });
    expect(await fs.readFile("/root/limit")).toBe("k".repeat(65536));
    await expect(fs.readFile("/root/link")).rejects.toMatchObject({ code: "ssh-file-not-regular" });
    expect(await fs.readFile("/root/missing")).toBeUndefined();
  });

  it("strips escape sequences from a failed command's output in its error", async () => {
    const err = await session.run("print", ["sh", "-c", "printf '\\033]0;pwned\\007\\033[31mred\\033[0m alert\\n' >&2; exit 3"]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "ssh-command-failed", message: `${host.address}:22: print failed (exit 3): red alert` });
  });
});
