// A map, and a set over it, that forget their oldest entries past a size: what a long-running bot
// remembers of what it has seen (its own fingerprints, the outbox items it appended, the websites
// out of scope it has named, the last message heard in a conversation), without growing forever.
export class RecentMap<K, V> {
  readonly #items = new Map<K, V>();
  constructor(private readonly max: number) {}

  /** Sets the entry and makes it the newest. */
  set(key: K, value: V): void {
    this.#items.delete(key);
    this.#items.set(key, value);
    if (this.#items.size > this.max) this.#items.delete(this.#items.keys().next().value as K);
  }

  get(key: K): V | undefined {
    return this.#items.get(key);
  }

  has(key: K): boolean {
    return this.#items.has(key);
  }

  delete(key: K): void {
    this.#items.delete(key);
  }
}

export class RecentSet<T = number> {
  readonly #items: RecentMap<T, true>;
  constructor(max: number) {
    this.#items = new RecentMap(max);
  }

  add(n: T): void {
    this.#items.set(n, true);
  }

  delete(n: T): void {
    this.#items.delete(n);
  }

  has(n: T): boolean {
    return this.#items.has(n);
  }
}
