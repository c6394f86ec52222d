import { NumberedLog } from "./numbered-log.js";

export interface LogBounds {
  /** Items kept per log; past it the log's lowest numbers are dropped. */
  maxPerLog: number;
  /** Items kept over all logs; past it the logs written longest ago lose their lowest numbers. */
  maxTotal: number;
}

/** One log and what it has lost to the bounds. */
export interface Shelf<T extends { readonly number: number }> {
  readonly log: NumberedLog<T>;
  /** How many items were dropped. */
  dropped: number;
  /** Every number ≤ floor was dropped (or never arrived before the drop): inserts there are refused. */
  floor: number;
  /** Highest number ever inserted, dropped or not. */
  highWater: number;
  /** FIFO entries of this shelf already spent by a per-log drop. */
  stale: number;
}

/**
 * Numbered logs (one per chat) under a per-log and a global item cap, which is
 * what makes the embedded mode's memory bounded. Each log only ever loses its
 * lowest numbers, so "below the floor" means "dropped": a late or repeated
 * insert there is refused instead of coming back and being counted twice.
 *
 * Global eviction uses a FIFO with one entry per insert, naming the shelf it
 * went to: the head entry's shelf gives up its lowest item. Per-log drops leave
 * an entry behind; it is counted as stale and skipped (or compacted away), so
 * the FIFO stays within about twice the number of items held. O(1) amortized.
 */
export class BoundedLogs<T extends { readonly number: number }> {
  private readonly shelves = new Map<string, Shelf<T>>();
  private fifo: Shelf<T>[] = [];
  private fifoHead = 0;
  private total = 0;

  constructor(private readonly bounds: LogBounds) {
    if (!(bounds.maxPerLog >= 1 && bounds.maxTotal >= 1)) throw new RangeError("log bounds must be at least 1");
  }

  /** Items held over all logs. */
  get size(): number {
    return this.total;
  }

  shelf(key: string): Shelf<T> | undefined {
    return this.shelves.get(key);
  }

  /** Shelves in insertion order of their keys. */
  entries(): IterableIterator<[string, Shelf<T>]> {
    return this.shelves.entries();
  }

  /**
   * Inserts an item whose number the log does not hold. Returns false when the
   * number is at or below the floor (already dropped): nothing changes then.
   */
  insert(key: string, item: T): boolean {
    let shelf = this.shelves.get(key);
    if (!shelf) {
      shelf = { log: new NumberedLog<T>(), dropped: 0, floor: 0, highWater: 0, stale: 0 };
      this.shelves.set(key, shelf);
    }
    if (item.number <= shelf.floor) return false;
    if (!shelf.log.set(item)) throw new Error(`number ${item.number} is already in log ${key}`);
    shelf.highWater = Math.max(shelf.highWater, item.number);
    this.total += 1;
    this.fifo.push(shelf);
    if (shelf.log.size > this.bounds.maxPerLog) {
      this.dropLowest(shelf);
      shelf.stale += 1;
    }
    while (this.total > this.bounds.maxTotal) this.evictOldest();
    if (this.fifo.length - this.fifoHead > 2 * this.total + 1024) this.compact();
    return true;
  }

  private evictOldest(): void {
    for (;;) {
      const shelf = this.fifo[this.fifoHead]!;
      this.fifoHead += 1;
      if (shelf.stale > 0) {
        shelf.stale -= 1;
        continue;
      }
      this.dropLowest(shelf);
      break;
    }
    if (this.fifoHead >= 4096 && this.fifoHead * 2 >= this.fifo.length) {
      this.fifo = this.fifo.slice(this.fifoHead);
      this.fifoHead = 0;
    }
  }

  private dropLowest(shelf: Shelf<T>): void {
    const item = shelf.log.shift();
    if (!item) throw new Error("eviction bookkeeping out of step");
    shelf.dropped += 1;
    shelf.floor = item.number;
    this.total -= 1;
  }

  /** Removes stale entries: each shelf's oldest entries are the ones its per-log drops spent. */
  private compact(): void {
    const kept: Shelf<T>[] = [];
    for (let i = this.fifoHead; i < this.fifo.length; i++) {
      const shelf = this.fifo[i]!;
      if (shelf.stale > 0) shelf.stale -= 1;
      else kept.push(shelf);
    }
    this.fifo = kept;
    this.fifoHead = 0;
  }
}
