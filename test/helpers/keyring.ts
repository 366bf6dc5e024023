// A real Secret Service for the keychain tests: a private D-Bus session bus and gnome-keyring
// unlocked with a throwaway login keyring, in a temporary HOME. Child processes given `env` use
// it; nothing touches the developer's own keychain. Missing binaries skip the tests locally with
// the reason shown, and fail them in CI (CI=true), where .ci/run installs dbus and gnome-keyring.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SecretService {
  /** DBUS_SESSION_BUS_ADDRESS and HOME for the children that should see this keychain. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

const NEEDED = ['dbus-daemon', 'gnome-keyring-daemon', 'dbus-send'];

/** Why the keychain tests cannot run here, or undefined when they can. */
export function secretServiceMissing(): string | undefined {
  if (process.platform !== 'linux') return 'the keychain tests drive a Linux Secret Service';
  const missing = NEEDED.filter((bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0);
  return missing.length ? `${missing.join(', ')} not installed (Debian: dbus, gnome-keyring)` : undefined;
}

export async function startSecretService(): Promise<SecretService> {
  const home = mkdtempSync(join(tmpdir(), 'crisp-mcp-keyring-'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    }
    rmSync(home, { recursive: true, force: true });
  };
  try {
    const bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(bus);
    const [address] = (await once(createInterface({ input: bus.stdout! }), 'line')) as [string];
    const env = { DBUS_SESSION_BUS_ADDRESS: address.trim(), HOME: home, XDG_RUNTIME_DIR: home };
    const keyring = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], { env: { ...process.env, ...env }, stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(keyring);
    keyring.stdin!.end('test-password');
    for (let i = 0; ; i++) {
      const probe = spawnSync('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/', 'org.freedesktop.DBus.NameHasOwner', 'string:org.freedesktop.secrets'], { env: { ...process.env, ...env }, encoding: 'utf8' });
      if (probe.stdout.includes('boolean true')) break;
      if (i > 100) throw new Error('gnome-keyring-daemon did not take org.freedesktop.secrets within 5 s');
      await sleep(50);
    }
    return { env, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
