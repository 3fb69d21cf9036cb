#!/usr/bin/env node
// Entry of the `proxstack` command: loads the TypeScript CLI through tsx, so no build step is needed.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../scripts/proxstack.ts");
process.exitCode = await main(process.argv.slice(2));
