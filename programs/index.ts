// Entry point of the Pulumi CLI path (Pulumi.yaml `main`): `pulumi preview|up -s <stack>` runs the engine's programs.
import * as pulumi from "@pulumi/pulumi";
import { runCliStack } from "./cli-entry.js";

// The Node language host calls the default export and records its result as the stack outputs; in
// ESM it must be the module's only export. Entry points are where the environment may be read.
export default async function proxstackStack(): Promise<Record<string, unknown>> {
  return runCliStack({ stack: pulumi.getStack(), env: process.env, cwd: process.cwd() });
}
