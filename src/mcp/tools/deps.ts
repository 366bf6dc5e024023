import type { ScenarioLibrary } from '../../engine/library.js';
import type { CrispClient } from '../../crisp/client.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import type { Store } from '../../store/index.js';
import type { Guard } from '../guard.js';
import type { OpenConversation } from '../../engine/port.js';

/** What every handler gets, as one argument: it never imports a client, and cannot tell the sandbox from Crisp. */
export interface ToolDeps {
  crisp: CrispClient;
  guard: Guard;
  config: Config;
  log: Logger;
  /** The scenarios of --scenarios (stdio serve compiles them after start-up: read them after `await scenarios.compiled()`). Without it (or without `store`) the scenarios toolset is left out. */
  scenarios?: ScenarioLibrary;
  /** Where scenario positions and drafts live (--store). */
  store?: Store;
  /** Opens a conversation as the engine's port (Crisp's, wired by the command); needed with `scenarios`. */
  openConversation?: OpenConversation;
  /** The clock scenarios read (business hours); Date.now when absent. Tests pin it. */
  clock?: () => number;
  /**
   * Present when the user sets this server through a settings form (the Claude Desktop bundle), where
   * no command line exists: restates a message that names variables in the form's terms.
   */
  inSettingsTerms?: (message: string) => string;
}

/** ToolDeps with the scenario runner's dependencies present. */
export type ScenarioDeps = ToolDeps & Required<Pick<ToolDeps, 'scenarios' | 'store'>>;

export function hasScenarioDeps(deps: ToolDeps): deps is ScenarioDeps {
  return deps.scenarios !== undefined && deps.store !== undefined;
}
