type Listener<T> = (value: T) => void;

/** A small typed event emitter (no Node `events` module in browsers). */
export class Emitter<Events extends object> {
  private readonly listeners: { [K in keyof Events]?: Set<Listener<Events[K]>> } = {};

  /** Adds a listener; the returned function removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const set = (this.listeners[event] ??= new Set());
    set.add(listener);
    return () => set.delete(listener);
  }

  protected emit<K extends keyof Events>(event: K, value: Events[K]): void {
    for (const listener of [...(this.listeners[event] ?? [])]) {
      try {
        listener(value);
      } catch (err) {
        // A failing listener must not leave the socket half-way through a frame: report it on its own.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
