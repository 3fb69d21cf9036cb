import { execFile } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { shellQuote } from "./session.js";

/** What a real POSIX shell makes of a command line: each word on its own line, NUL-separated. */
function words(commandLine: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    execFile("sh", ["-c", `printf '%s\\0' ${commandLine}`], (err, out) => (err ? reject(err) : resolve(out.split("\0").slice(0, -1)))),
  );
}

describe("shellQuote", () => {
  it.each(["plain", "", "a b", "it's", "$(touch /tmp/pxs-pwned)", "`id`", "a;b|c&d", "line\nbreak", "\"dq\"", "*", "~root", "\\"])(
    "keeps %j one literal word in a real shell",
    async (arg) => {
      expect(await words(`${shellQuote(arg)} ${shellQuote("next")}`)).toEqual([arg, "next"]);
    },
  );

  it("keeps arbitrary strings literal (property, real sh)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit: "binary" }).filter((s) => !s.includes("\0")), { minLength: 1, maxLength: 4 }), async (args) => {
        expect(await words(args.map(shellQuote).join(" "))).toEqual(args);
      }),
      { numRuns: 60 },
    );
  });

  it("refuses a NUL byte, which no argument can carry", () => {
    expect(() => shellQuote("a\0b")).toThrow(/NUL/);
  });
});
