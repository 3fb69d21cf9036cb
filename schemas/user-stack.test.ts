import { describe, expect, it } from "vitest";
import { SshPublicKeySchema } from "./user-stack.js";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4N4jzWW5jRTjyVW2dB3e0ryh5PFdf4g4KQ/Pn";

describe("SSH public key lines", () => {
  it.each([KEY, `${KEY} alice@laptop`, `${KEY} alice@laptop (work, 2026)`, `${KEY} a+b=c:d/e_f-g.h`])("accepts %s", (line) => {
    expect(SshPublicKeySchema.safeParse(line).success).toBe(true);
  });

  // The hardening hook refuses these comments; the schema refuses them first, so validate catches them.
  it.each([`${KEY} x;rm -rf /`, `${KEY} $(id)`, `${KEY} \`id\``, `${KEY} "quoted"`, `${KEY} a'b`, `${KEY} a|b`, `${KEY} a\tb`])(
    "refuses the comment in %j",
    (line) => {
      const r = SshPublicKeySchema.safeParse(line);
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.message).toMatch(/optional comment \(letters, digits, spaces and @ \. _ \+ = : , \/ \( \) - only\)/);
    },
  );
});
