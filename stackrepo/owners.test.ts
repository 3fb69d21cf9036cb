// OWNERS: CODEOWNERS-style globs (last match wins) and who may change which file.
import { describe, expect, it } from "vitest";
import { ownershipErrors, ownersOf, parseOwners } from "./owners.js";

const OWNERS = parseOwners(
  [
    "# operators first, then narrower rules",
    "*                 ops@example.com",
    "team-*.yaml       lead@example.com ops@example.com   # team stacks",
    "/platform.yaml    infra@example.com",
    "archive/          archivist@example.com",
    "**/legacy/*.yaml  old@example.com",
  ].join("\n"),
  "stacks/OWNERS",
);

describe("parseOwners / ownersOf", () => {
  it.each([
    ["alice.yaml", ["ops@example.com"]],
    ["team-red.yaml", ["lead@example.com", "ops@example.com"]],
    ["platform.yaml", ["infra@example.com"]],
    ["sub/platform.yaml", ["ops@example.com"]],
    ["archive/old.yaml", ["archivist@example.com"]],
    ["x/legacy/a.yaml", ["old@example.com"]],
    ["legacy/a.yaml", ["old@example.com"]],
    ["OWNERS", ["ops@example.com"]],
  ])("%s → %j", (file, owners) => {
    expect(OWNERS.errors).toEqual([]);
    expect(ownersOf(OWNERS, file)).toEqual(owners);
  });

  it("no rule matches: no owners; no OWNERS file: no owners", () => {
    expect(ownersOf(parseOwners("alice.yaml  a@example.com\n", "OWNERS"), "bob.yaml")).toEqual([]);
    expect(ownersOf(undefined, "bob.yaml")).toEqual([]);
  });

  it("a rule without owners or with a non-address is an error with line and column", () => {
    expect(parseOwners("\n  bob.yaml\n* ops@example.com @ops\n", "stacks/OWNERS").errors).toEqual([
      { path: "stacks/OWNERS", line: 2, col: 3, code: "owners.rule", message: "rule \"bob.yaml\" names no owner; write '<glob> <email> [<email>…]'" },
      { path: "stacks/OWNERS", line: 3, col: 19, code: "owners.rule", message: '"@ops" is not an e-mail address; OWNERS lists owners by e-mail' },
    ]);
  });
});

describe("ownershipErrors", () => {
  const change = (file: string, status: "added" | "modified" | "deleted", ownerBefore?: string, ownerAfter?: string) => ({
    file,
    displayPath: `stacks/${file}`,
    status,
    ...(ownerBefore ? { ownerBefore } : {}),
    ...(ownerAfter ? { ownerAfter } : {}),
  });
  it.each([
    ["own file", "alice@example.com", change("alice.yaml", "modified", "alice@example.com", "alice@example.com"), []],
    ["case-insensitive", "Alice@Example.com", change("alice.yaml", "modified", "alice@example.com", "alice@example.com"), []],
    ["operator", "ops@example.com", change("bob.yaml", "deleted", "bob@example.com"), []],
    ["new file naming oneself", "dave@example.com", change("dave.yaml", "added", undefined, "dave@example.com"), []],
    [
      "taking over a file by rewriting owner.email",
      "eve@example.com",
      change("bob.yaml", "modified", "bob@example.com", "eve@example.com"),
      ["eve@example.com may not change this file: only its owner bob@example.com or ops@example.com (OWNERS) may"],
    ],
    [
      "new file naming someone else",
      "eve@example.com",
      change("dave.yaml", "added", undefined, "dave@example.com"),
      ["eve@example.com may not add this file: only its owner dave@example.com or ops@example.com (OWNERS) may"],
    ],
    [
      "platform file by a user",
      "alice@example.com",
      change("platform.yaml", "modified"),
      ["alice@example.com may not change this file: only infra@example.com (OWNERS) may"],
    ],
  ])("%s", (_, author, c, messages) => {
    expect(ownershipErrors(author, [c], OWNERS).map((e) => e.message)).toEqual(messages);
  });

  it("without OWNERS a file no user owns can be changed by no one", () => {
    expect(ownershipErrors("ops@example.com", [change("platform.yaml", "modified")], undefined).map((e) => e.message)).toEqual([
      "ops@example.com may not change this file: no one is listed for it in OWNERS",
    ]);
  });
});
