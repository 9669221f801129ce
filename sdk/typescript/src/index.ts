// af SDK for TypeScript and JavaScript (ESM, Node 18+): route, report and
// outcome calls to routerd, typed denials, bounded retries.
export * from "./client.js";
export * from "./errors.js";
export type * from "./types.js";
