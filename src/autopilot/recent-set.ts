// A set that forgets its oldest entries past a size: what a long-running bot remembers of
// numbers it has seen (its own fingerprints, the outbox items it appended), the websites out of
// scope it has named, without growing forever.
export class RecentSet<T = number> {
  readonly #items = new Set<T>();
  constructor(private readonly max: number) {}

  add(n: T): void {
    this.#items.delete(n);
    this.#items.add(n);
    if (this.#items.size > this.max) this.#items.delete(this.#items.values().next().value as T);
  }

  delete(n: T): void {
    this.#items.delete(n);
  }

  has(n: T): boolean {
    return this.#items.has(n);
  }
}
