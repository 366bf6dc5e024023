// The OS keychain (macOS Keychain, Windows Credential Manager, Secret Service on Linux) through
// @napi-rs/keyring. One entry, service `crisp-mcp`, holding the identifier, key and tier as JSON.
// When the keychain cannot be reached we say so and stop — never a quiet fallback to a file.
import { existsSync } from 'node:fs';
import type { AsyncEntry } from '@napi-rs/keyring';
import { z } from 'zod';
import { Tier } from '../crisp/vocabulary.js';

export const KEYCHAIN_SERVICE = 'crisp-mcp';
const ACCOUNT = 'crisp-api';

export const StoredCredentials = z.object({ identifier: z.string().min(1), key: z.string().min(1), tier: Tier });
export type StoredCredentials = z.infer<typeof StoredCredentials>;

export interface Keychain {
  read(): Promise<StoredCredentials | undefined>;
  write(credentials: StoredCredentials): Promise<void>;
  /** True when there was something to remove. */
  remove(): Promise<boolean>;
}

/** The keychain could not be used at all (no Secret Service, locked, access denied). */
export class KeychainUnavailableError extends Error {
  override readonly name = 'KeychainUnavailableError';
  constructor(readonly reason: string) {
    super(`the OS keychain is not reachable (${reason})`);
  }
}

export class OsKeychain implements Keychain {
  readonly #service: string;
  #entry: AsyncEntry | undefined;

  constructor(service = KEYCHAIN_SERVICE) {
    this.#service = service;
  }

  /** The native keyring addon is loaded on first use: a server given its credentials never loads it. */
  async #open(): Promise<AsyncEntry> {
    if (!this.#entry) {
      const { AsyncEntry } = await import('@napi-rs/keyring');
      this.#entry = new AsyncEntry(this.#service, ACCOUNT);
    }
    return this.#entry;
  }

  async read(): Promise<StoredCredentials | undefined> {
    const raw = await guard(async () => (await this.#open()).getPassword());
    if (raw === undefined || raw === null) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    const result = StoredCredentials.safeParse(parsed);
    // Never echo the stored value: it holds the key.
    if (!result.success) throw new KeychainUnavailableError(`the ${KEYCHAIN_SERVICE} entry is not in the expected form; run \`crisp-mcp auth logout\` then \`auth login\``);
    return result.data;
  }

  async write(credentials: StoredCredentials): Promise<void> {
    await guard(async () => (await this.#open()).setPassword(JSON.stringify(StoredCredentials.parse(credentials))));
  }

  async remove(): Promise<boolean> {
    return guard(async () => (await this.#open()).deleteCredential());
  }
}

async function guard<T>(operation: () => Promise<T>): Promise<T> {
  const missing = missingPlatformService();
  if (missing) throw new KeychainUnavailableError(missing);
  try {
    return await operation();
  } catch (error) {
    throw new KeychainUnavailableError(firstLine(error));
  }
}

/**
 * On Linux the keychain is the Secret Service, reached over the D-Bus session bus. Without a bus the
 * native layer reads "no entry" and fails on write, so say what is missing before it is asked.
 */
function missingPlatformService(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  if (process.env.DBUS_SESSION_BUS_ADDRESS) return undefined;
  const uid = process.getuid?.();
  if (uid !== undefined && existsSync(`/run/user/${uid}/bus`)) return undefined;
  return 'no D-Bus session bus, so no Secret Service: this looks like a headless Linux';
}

/** The native error carries a Rust backtrace after its first line; the first line is the reason. */
function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.replace(/^Couldn't access platform storage: /, '').trim() || 'unknown error';
}
