import { describe, expect, it } from "vitest";
import { chainMessage } from "../lib/errors.js";
import { createCommandRunner } from "./command-runner.js";
import { generateKeyPair } from "./keys.js";

describe("command runner", () => {
  it("passes stdin and returns stdout", async () => {
    const r = await createCommandRunner().run("cat", [], { input: "hello" });
    expect(r.stdout).toBe("hello");
  });

  it("fails with the command's stderr, keys blanked out of it and out of the cause chain", async () => {
    const key = generateKeyPair().privateKey;
    const err = await createCommandRunner()
      .run("sh", ["-c", `echo "Line unrecognized: PrivateKey=${key}" >&2; exit 1`])
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "host-command-failed", kind: "retry" });
    expect(chainMessage(err)).toBe("sh -c: Line unrecognized: PrivateKey=[key]");
    expect(chainMessage(err)).not.toContain(key);
  });

  it("names a missing tool", async () => {
    await expect(createCommandRunner().run("no-such-tool-pxs", [])).rejects.toMatchObject({ message: "no-such-tool-pxs: no-such-tool-pxs is not installed" });
  });
});
