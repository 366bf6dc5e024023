import type { CrispClient } from '../../crisp/client.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import type { Guard } from '../guard.js';

/** What every handler gets, as one argument: it never imports a client, and cannot tell the sandbox from Crisp. */
export interface ToolDeps {
  crisp: CrispClient;
  guard: Guard;
  config: Config;
  log: Logger;
}
