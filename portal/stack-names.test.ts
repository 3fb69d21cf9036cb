import { describe, expect, it } from "vitest";
import { linuxUserFor, sanitiseStackName, uniqueStackName } from "./stack-names.js";

describe("stack names for new users", () => {
  it.each([
    ["Dana Scully", "dana-scully"],
    ["Zoë O'Brien", "zoe-obrien"],
    ["  ---Weird__Name!!  ", "weird-name"],
    ["42 is the answer", "u-42-is-the-answer"],
    ["ａｌｉｃｅ", "alice"],
    ["日本語", ""],
    ["../../etc/passwd", "etc-passwd"],
    ["a very long name that goes on and on", "a-very-long-name-tha"],
  ])("%j → %j", (raw, want) => {
    expect(sanitiseStackName(raw)).toBe(want);
  });

  it("unique: base, base-2, base-3…; never platform; an empty base becomes user", () => {
    const taken = new Set(["dana", "dana-2", "user"]);
    expect(uniqueStackName("dana", (n) => taken.has(n))).toBe("dana-3");
    expect(uniqueStackName("platform", () => false)).toBe("platform-2");
    expect(uniqueStackName("", (n) => taken.has(n))).toBe("user-2");
    expect(uniqueStackName("a-very-long-name-tha", (n) => n === "a-very-long-name-tha")).toBe("a-very-long-name-t-2");
  });

  it("Linux users: the stack name unless reserved or not a Linux name", () => {
    expect([linuxUserFor("dana"), linuxUserFor("admin"), linuxUserFor("root"), linuxUserFor("u-42")]).toEqual(["dana", "u-admin", "u-root", "u-42"]);
  });
});
