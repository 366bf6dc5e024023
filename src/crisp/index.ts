export * from './client.js';
export * from './errors.js';
export type { CrispCredentials, HttpOptions, RetryEvent } from './http.js';
export type { RetryPolicy } from './retry.js';
export * from './schemas.js';
export * from './hooks.js';
export * from './rtm.js';
export * from './helpdesk.js';
