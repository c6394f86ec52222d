/**
 * Per-key actor that coalesces work arriving within one tick into a single
 * flush, and runs at most one flush per key at a time. Arrivals during a flush
 * form the next batch, so batches grow with load and one process hands out a
 * key's numbers (and notifies them) strictly in order.
 */
export class KeyedBatcher<In, Out> {
  private readonly queues = new Map<string, { items: Pending<In, Out>[]; running: boolean }>();

  constructor(
    private readonly flush: (key: string, items: In[]) => Promise<Out[]>,
    private readonly maxBatch: number,
  ) {}

  submit(key: string, item: In): Promise<Out> {
    let queue = this.queues.get(key);
    if (!queue) {
      queue = { items: [], running: false };
      this.queues.set(key, queue);
    }
    const pending = new Pending<In, Out>(item);
    queue.items.push(pending);
    if (!queue.running) {
      queue.running = true;
      setImmediate(() => void this.drain(key));
    }
    return pending.promise;
  }

  private async drain(key: string): Promise<void> {
    const queue = this.queues.get(key);
    if (!queue) return;
    while (queue.items.length > 0) {
      const batch = queue.items.splice(0, this.maxBatch);
      try {
        const results = await this.flush(
          key,
          batch.map((p) => p.input),
        );
        batch.forEach((p, i) => p.resolve(results[i] as Out));
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    queue.running = false;
    this.queues.delete(key);
  }
}

class Pending<In, Out> {
  resolve!: (value: Out) => void;
  reject!: (reason: unknown) => void;
  readonly promise: Promise<Out>;
  constructor(readonly input: In) {
    this.promise = new Promise<Out>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}
