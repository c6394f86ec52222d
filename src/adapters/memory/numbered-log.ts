/**
 * Items of one parent (an application's chats, a chat's messages) kept sorted
 * by number, for keyset pages. Appending a higher number is O(1); dropping the
 * lowest is O(1) amortized; an out-of-order insert or a delete costs a splice.
 * Stores what it is given: callers copy on the way in and out.
 */
export class NumberedLog<T extends { readonly number: number }> {
  private keys: number[] = [];
  private head = 0;
  private readonly items = new Map<number, T>();

  get size(): number {
    return this.items.size;
  }

  get(number: number): T | undefined {
    return this.items.get(number);
  }

  /** Inserts or replaces; true when the number was not present before. */
  set(item: T): boolean {
    const fresh = !this.items.has(item.number);
    this.items.set(item.number, item);
    if (fresh) {
      const n = item.number;
      if (this.keys.length === this.head || n > this.keys[this.keys.length - 1]!) this.keys.push(n);
      else this.keys.splice(this.lowerBound(n), 0, n);
    }
    return fresh;
  }

  delete(number: number): T | undefined {
    const item = this.items.get(number);
    if (item === undefined) return undefined;
    this.items.delete(number);
    const i = this.lowerBound(number);
    if (i === this.head) this.advanceHead();
    else this.keys.splice(i, 1);
    return item;
  }

  lowest(): T | undefined {
    return this.head < this.keys.length ? this.items.get(this.keys[this.head]!) : undefined;
  }

  highest(): T | undefined {
    return this.head < this.keys.length ? this.items.get(this.keys[this.keys.length - 1]!) : undefined;
  }

  /** Removes and returns the lowest-numbered item. */
  shift(): T | undefined {
    if (this.head >= this.keys.length) return undefined;
    const item = this.items.get(this.keys[this.head]!);
    this.items.delete(this.keys[this.head]!);
    this.advanceHead();
    return item;
  }

  /** Items with after < number < before, ascending, at most `limit`. */
  ascending(after: number, before: number, limit: number): T[] {
    const out: T[] = [];
    for (let i = this.upperBound(after); i < this.keys.length && out.length < limit; i++) {
      const n = this.keys[i]!;
      if (n >= before) break;
      out.push(this.items.get(n)!);
    }
    return out;
  }

  /** Items with after < number < before, descending, at most `limit`. */
  descending(after: number, before: number, limit: number): T[] {
    const out: T[] = [];
    for (let i = this.lowerBound(before) - 1; i >= this.head && out.length < limit; i--) {
      const n = this.keys[i]!;
      if (n <= after) break;
      out.push(this.items.get(n)!);
    }
    return out;
  }

  /** Every item, ascending. */
  *values(): IterableIterator<T> {
    for (let i = this.head; i < this.keys.length; i++) yield this.items.get(this.keys[i]!)!;
  }

  private advanceHead(): void {
    this.head += 1;
    if (this.head === this.keys.length) {
      this.keys = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.keys.length) {
      this.keys = this.keys.slice(this.head);
      this.head = 0;
    }
  }

  /** First index (≥ head) whose key is ≥ n. */
  private lowerBound(n: number): number {
    let lo = this.head;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < n) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index (≥ head) whose key is > n. */
  private upperBound(n: number): number {
    let lo = this.head;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! <= n) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
