// A set that forgets its oldest entries past a size: what a long-running bot remembers of
// numbers it has seen (its own fingerprints, the outbox items it appended) without growing forever.
export class RecentSet {
  readonly #items = new Set<number>();
  constructor(private readonly max: number) {}

  add(n: number): void {
    this.#items.delete(n);
    this.#items.add(n);
    if (this.#items.size > this.max) this.#items.delete(this.#items.values().next().value as number);
  }

  has(n: number): boolean {
    return this.#items.has(n);
  }
}
