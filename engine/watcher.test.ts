import { describe, expect, it } from "vitest";
import { isEditorTempFile } from "./watcher.js";

describe("editor temp files", () => {
  it.each([".alice.yaml.swp", ".alice.yaml.swx", "alice.yaml~", ".#alice.yaml", "#alice.yaml#", "4913", ".hidden.yaml", "sedAb12Cd", ".alice.yaml.1a2b.tmp"])(
    "%s is ignored",
    (n) => {
      expect(isEditorTempFile(n)).toBe(true);
    },
  );
  it.each(["alice.yaml", "platform.yaml", "a-b.yaml", "4914.yaml"])("%s is a stack file", (n) => {
    expect(isEditorTempFile(n)).toBe(false);
  });
});
