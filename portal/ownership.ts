// Ownership through the stack file: an id `<stack>.<instance>` is the caller's only when their account owns that stack and the file names their e-mail.
import type { PlatformSpec, UserStackSpec, Instance } from "../schemas/index.js";
import type { Account } from "./repos/accounts.js";
import type { PortalContext } from "./context.js";
import { httpError, notFound } from "./http-errors.js";
import { formatPositionedError } from "../stackfiles/positioned-error.js";

export interface OwnedStack {
  stack: string;
  spec: UserStackSpec;
  platform: PlatformSpec;
}

const ID = /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)$/;

/**
 * The caller's stack, or undefined when they have no stack file yet. A file whose owner is someone else is not
 * theirs. A file of theirs that fails validation (a bad hand edit or pull request) answers 409 with the validator's
 * words, so the author sees why nothing is applied.
 */
export async function ownStack(ctx: PortalContext, a: Account): Promise<OwnedStack | undefined> {
  if (!a.stack) return undefined;
  const file = await ctx.specs.read(a.stack);
  if (!file) return undefined;
  if (!file.spec) {
    if (!new RegExp(`^\\s*email:\\s*["']?${a.email.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}["']?\\s*$`, "mi").test(file.text)) return undefined;
    const fields = Object.fromEntries(file.errors.slice(0, 20).map((e, i) => [String(i), formatPositionedError({ ...e, path: `${a.stack}.yaml` })]));
    throw httpError(
      409,
      "stack-invalid",
      `your stack file ${a.stack}.yaml does not pass validation, so nothing in it is applied: ${file.errors[0]?.message ?? "invalid"}`,
      fields,
    );
  }
  if (file.spec.owner.email.toLowerCase() !== a.email) return undefined;
  return { stack: a.stack, spec: file.spec, platform: await ctx.specs.platform() };
}

/** Resolves `<stack>.<instance>`; every way of not owning it answers the same 404. */
export async function ownInstance(ctx: PortalContext, a: Account, id: string): Promise<OwnedStack & { instance: Instance }> {
  const m = ID.exec(id);
  const what = `instance ${JSON.stringify(id.slice(0, 130))}`;
  if (!m || m[1] !== a.stack) throw notFound(what);
  const own = await ownStack(ctx, a);
  const instance = own?.spec.instances.find((i) => i.name === m[2]);
  if (!own || !instance) throw notFound(what);
  return { ...own, instance };
}
