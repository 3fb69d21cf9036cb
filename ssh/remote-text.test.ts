import { describe, expect, it } from "vitest";
import { cleanRemoteText } from "./remote-text.js";

describe("cleanRemoteText", () => {
  it.each([
    ["colours", "\x1b[31mred\x1b[0m text", "red text"],
    ["a window title (OSC, BEL)", "\x1b]0;owned\x07after", "after"],
    ["a clipboard write (OSC 52, ST)", "a\x1b]52;c;cm0gLXJmIH4=\x1b\\b", "ab"],
    ["a hyperlink", "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"],
    ["a screen clear and cursor move", "\x1b[2J\x1b[1;1Hfake prompt", "fake prompt"],
    ["a DCS string", "x\x1bPq#0;2;0;0;0\x1b\\y", "xy"],
    ["a charset switch and a reset", "\x1b(0lqk\x1bc", "lqk"],
    ["8-bit CSI and carriage returns", "ok\r\x9b31mhidden? no", "ok31mhidden? no"],
    ["bidi overrides", "user\u202Eexe.txt", "userexe.txt"],
    ["NUL, backspace and DEL", "a\x00b\x08c\x7fd", "abcd"],
    ["tabs and newlines stay", "line 1\n\tline 2", "line 1\n\tline 2"],
    ["a lone ESC at the end", "done\x1b", "done"],
  ])("strips %s", (_what, input, out) => {
    expect(cleanRemoteText(input)).toBe(out);
  });

  it("caps the length and says how much was cut, also for input far past the cap", () => {
    expect(cleanRemoteText("x".repeat(30), 10)).toBe(`${"x".repeat(10)}…(+20 characters cut)`);
    expect(cleanRemoteText("y".repeat(1_000_000), 10)).toBe(`${"y".repeat(10)}…(+999990 characters cut)`);
    expect(cleanRemoteText("short", 10)).toBe("short");
  });
});
