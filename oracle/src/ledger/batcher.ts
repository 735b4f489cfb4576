/**
 * Group commit: calls made while a flush is in flight are queued and written together
 * by the next flush (one round trip, one WAL flush). Each caller's promise settles only
 * after its batch is committed. At low load a batch is one item and nothing waits. When a
 * batch fails, its items are written one by one, so one bad item fails only itself.
 */
export class GroupCommit<T, R> {
  private queue: { item: T; resolve: (r: R) => void; reject: (e: Error) => void }[] = [];
  private flushing = false;

  /** `write` receives a batch and returns one result per item, in order. */
  constructor(private readonly write: (batch: T[]) => Promise<R[]>, private readonly maxBatch = 500) {}

  submit(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          const results = await this.write(batch.map((b) => b.item));
          batch.forEach((b, i) => b.resolve(results[i] as R));
        } catch (err) {
          if (batch.length === 1) batch[0]!.reject(err as Error);
          // One item the database refuses must not fail the others written with it: each alone.
          else for (const b of batch) await this.write([b.item]).then((r) => b.resolve(r[0] as R), (e: Error) => b.reject(e));
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
