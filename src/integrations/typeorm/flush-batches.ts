/*
 * TypeORM calls a subscriber's `beforeInsert` / `beforeUpdate` / `afterLoad` once per entity,
 * starting them all in one synchronous loop before it awaits any: the jobs started in one tick
 * for one query runner (one operation) form one batch, run after the loop. Internal.
 */

interface Pending<J> {
  readonly job: J;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Jobs grouped per operation (`key`: the event's query runner) and per tick; `run` receives
 * each group once. A group's failure rejects all of its jobs (the operation fails as a whole);
 * other groups are not affected.
 */
export class FlushBatches<J> {
  readonly #run: (jobs: J[]) => Promise<void>;
  #groups = new Map<object, Pending<J>[]>();
  constructor(run: (jobs: J[]) => Promise<void>) {
    this.#run = run;
  }

  add(key: object, job: J): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.#groups.size === 0) queueMicrotask(() => this.#flush());
      let group = this.#groups.get(key);
      if (group === undefined) this.#groups.set(key, (group = []));
      group.push({ job, resolve, reject });
    });
  }

  #flush(): void {
    const groups = [...this.#groups.values()];
    this.#groups = new Map();
    for (const group of groups) {
      this.#run(group.map((p) => p.job)).then(
        () => group.forEach((p) => p.resolve()),
        (err: unknown) => group.forEach((p) => p.reject(err)),
      );
    }
  }
}
