// `proxstack admin create --email E [--password-file F]`: create (or promote) a portal administrator.
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { systemClock } from "../lib/clock.js";
import { createAdministrator } from "../portal/administrators.js";
import { openPortalDb } from "../portal/db.js";
import { createPasswordHasher } from "../portal/passwords.js";
import { loadConfig } from "../schemas/config.js";
import { EXIT, parseFlags, UsageError, type Command } from "./cli.js";

export const command: Command = {
  summary: "create a portal administrator (admin create --email E [--password-file F])",
  help: `Usage: proxstack admin create --email E [--password-file F]

Creates a verified portal account with the administrator role in <data dir>/portal.db
(PROXSTACK_DATA_DIR). An existing account with that e-mail is promoted instead.

  --email E          the administrator's e-mail (their login)
  --password-file F  read the password from F (first line, at least 10 characters); without it a
                     new account gets a generated password, printed once, and an existing account
                     keeps its own
`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, { email: { type: "string" }, "password-file": { type: "string" } }, true);
    if (positionals[0] !== "create" || positionals.length !== 1) throw new UsageError("the only subcommand is 'create'");
    if (!values.email) throw new UsageError("--email is required");
    let password: string | undefined;
    if (values["password-file"]) {
      try {
        password = (readFileSync(path.resolve(io.cwd, values["password-file"]), "utf8").split(/\r?\n/)[0] ?? "").trimEnd();
      } catch (err) {
        io.stderr(`proxstack admin: cannot read --password-file: ${err instanceof Error ? err.message : String(err)}\n`);
        return EXIT.failed;
      }
    }
    const config = loadConfig(io.env, io.cwd);
    mkdirSync(config.dataDir, { recursive: true });
    const db = openPortalDb(path.join(config.dataDir, "portal.db"));
    try {
      const r = await createAdministrator(
        db,
        { hasher: createPasswordHasher(), clock: systemClock, stacksDir: config.stacksDir },
        { email: values.email, ...(password !== undefined ? { password } : {}) },
      );
      io.stdout(`${r.promoted ? "promoted" : "created"} administrator ${r.email} (id ${r.id}, stack ${r.stack})\n`);
      if (r.generatedPassword) io.stdout(`password (shown once): ${r.generatedPassword}\n`);
      return EXIT.ok;
    } finally {
      db.close();
    }
  },
};
