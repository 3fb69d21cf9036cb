// The logger: JSON lines by default, pretty lines for a terminal, secrets redacted either way.
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

function capture(pretty: boolean) {
  const out: string[] = [];
  const log = createLogger("info", { write: (s: string) => void out.push(s) }, { pretty });
  log.info({ stack: "alice", token: "s3cret-token" }, "applied");
  log.debug("below the level");
  return out;
}

describe("createLogger", () => {
  it("writes one JSON line per entry, token redacted", () => {
    const out = capture(false);
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0] ?? "")).toMatchObject({ level: 30, msg: "applied", stack: "alice", token: "[redacted]" });
  });

  it("pretty: a readable line with level and message, token redacted", () => {
    const out = capture(true);
    expect(out).toHaveLength(1);
    const line = out[0] ?? "";
    expect(() => JSON.parse(line) as unknown).toThrow();
    const plain = line.replace(/\u001b\[[0-9;]*m/g, "");
    expect(plain).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: applied\n/);
    expect(plain).toContain('stack: "alice"');
    expect(plain).toContain('token: "[redacted]"');
    expect(plain).not.toContain("s3cret");
  });
});
