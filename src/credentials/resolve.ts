// Where serve and `auth status` get their credentials: flags > environment > keychain. The
// keychain is opened only when neither flags nor environment name a pair, so a headless Linux
// with CRISP_IDENTIFIER/CRISP_KEY set never touches (or fails on) the Secret Service.
import { credentialsOutsideKeychain, resolveConfig, type Config, type ServeFlags } from '../config.js';
import { KeychainUnavailableError, OsKeychain, type Keychain } from './keychain.js';
import { registerSecret, registerUrlUserinfo } from './redact.js';

export async function resolveWithKeychain(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env, keychain: Keychain = new OsKeychain()): Promise<Config> {
  let stored;
  let keychainError: string | undefined;
  if (!credentialsOutsideKeychain(flags, env)) {
    try {
      stored = await keychain.read();
    } catch (error) {
      if (!(error instanceof KeychainUnavailableError)) throw error;
      keychainError = error.message;
    }
  }
  const config = resolveConfig(flags, { env, keychain: stored, keychainError });
  if (config.credentials) registerSecret(config.credentials.key, config.credentials.identifier);
  // A Redis store URL may carry a password (redis://user:password@host): hidden like the key.
  if (config.store.kind === 'redis') registerUrlUserinfo(config.store.url);
  return config;
}
