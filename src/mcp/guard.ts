// The safety checks every tool call goes through. Violations are GuardErrors,
// which the server turns into an isError result that says what is allowed instead.

export type GuardCode = 'website_not_allowed' | 'send_refused';

export class GuardError extends Error {
  override readonly name = 'GuardError';
  constructor(
    readonly code: GuardCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A refusal as the user reads it, for tool results, resource and prompt errors alike: restated in
 * the settings form's terms when the server has one (the Claude Desktop bundle), where no variable
 * such as CRISP_WEBSITE_ID can be set.
 */
export function refusalText(error: GuardError, inSettingsTerms: ((message: string) => string) | undefined): string {
  return inSettingsTerms?.(error.message) ?? error.message;
}

export class Guard {
  readonly websites: readonly string[];

  constructor(websites: readonly string[]) {
    if (websites.length === 0) throw new TypeError('the website allow-list is empty');
    this.websites = [...websites];
  }

  /** The website a call acts on: the one asked for if allowed, else the default (first). */
  website(requested: string | undefined): string {
    if (requested === undefined || requested === '') return this.websites[0]!;
    // Website ids are UUIDs, whose case carries no meaning; config.ts keeps the allow-list in lower case.
    const id = requested.toLowerCase();
    if (this.websites.includes(id)) return id;
    throw new GuardError(
      'website_not_allowed',
      `website ${requested} is not in CRISP_WEBSITE_ID; allowed: ${this.websites.join(', ')} (omit website_id to use ${this.websites[0]})`,
    );
  }

  /**
   * For the agent's instructions: the websites this server reaches, when there are several (an
   * agency's token), so that an empty list on one website is not taken for an empty Crisp. '' for one.
   */
  overview(): string {
    if (this.websites.length < 2) return '';
    return `This server reaches ${this.websites.length} Crisp websites: ${this.websites.join(', ')}; a call without website_id acts on the first. Ids (sessions, people, cursors) belong to one website: pass its website_id.`;
  }

  /** " on website X" where a message would say "on this website": with several websites it must say which; '' with one. */
  onWebsite(website: string): string {
    return this.websites.length < 2 ? '' : ` on website ${website}`;
  }

  /**
   * Said after "not found" on `website`: the id may be one of another allowed website, reached only
   * with its website_id (Crisp answers a session of website B asked on website A with a plain 404). '' with one website.
   * `clause` says what may be elsewhere, for an empty search rather than a missing id.
   */
  elsewhere(website: string | undefined, clause = 'it belongs to'): string {
    const others = this.websites.filter((w) => w !== website?.toLowerCase());
    if (this.websites.length < 2 || others.length === 0) return '';
    return ` If ${clause} another website of this server, pass its website_id: ${others.join(', ')}.`;
  }
}
