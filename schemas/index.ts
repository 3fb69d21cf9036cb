// The contract: every document that crosses a boundary has its zod schema here.
export * from "./common.js";
export * from "./platform.js";
export * from "./user-stack.js";
export * from "./config.js";
export * from "./outputs.js";
export * from "./status.js";
