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
 * Jobs grouped per query runner (`key`) and per tick; `run` receives each group once and may
 * return each job's own failure (undefined for a job done). A thrown failure rejects the whole
 * group; other groups are not affected.
 */
export class FlushBatches<J> {
  readonly #run: (jobs: J[]) => Promise<readonly unknown[] | void>;
  #groups = new Map<object, Pending<J>[]>();
  constructor(run: (jobs: J[]) => Promise<readonly unknown[] | void>) {
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
        (errors) =>
          group.forEach((p, i) => {
            const error = errors?.[i];
            if (error === undefined) p.resolve();
            else p.reject(error);
          }),
        (err: unknown) => group.forEach((p) => p.reject(err)),
      );
    }
  }
}
