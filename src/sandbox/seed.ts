// What a sandbox's seed and defaults decide before anything is built: the seeded random streams,
// the demo website's id and the credential it accepts by default. Small on purpose: stdio
// `serve --sandbox` (listen-first.ts) needs the id and the credential before it loads the
// simulator itself.
import { randomBytes } from 'node:crypto';
import type { SandboxCredential } from './routes/context.js';

/** A fixed demo identifier: the sandbox prints it, a user pastes it. Keys are random per run. */
export const SANDBOX_IDENTIFIER = 'c0ffee00-5a4d-4b0c-8000-000000000001';

/** The default: one plugin-tier pair, the demo identifier with a random key. */
export function defaultCredentials(): SandboxCredential[] {
  return [{ identifier: SANDBOX_IDENTIFIER, key: randomBytes(24).toString('hex'), tier: 'plugin' }];
}

/** mulberry32: tiny, fast and good enough for fixtures; returns floats in [0, 1). */
export function createRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeUuid(rng: () => number): string {
  const bytes = Array.from({ length: 16 }, () => Math.floor(rng() * 256));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40; // version 4
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  const hex = bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The demo website's id for a seed without building the inbox: generateDemoData's first draw. */
export function demoWebsiteId(seed: number): string {
  return makeUuid(createRng(seed));
}
