// One backfill worker process of bench/backfill.js: builds its own pool and client, says
// `ready`, waits for `go`, runs runBackfill on the shared job and reports its counts.
import pg from 'pg';

import { fromPgPool, runBackfill } from '../dist/postgres/index.js';
import { Account, backfillClient } from './backfill.js';

const pool = new pg.Pool({
  connectionString: process.env.BENCH_WORKER_URL,
  max: 2,
  options: `-c search_path=${process.env.BENCH_WORKER_SCHEMA}`,
});
const sql = fromPgPool(pool);
const fs = backfillClient(sql);

process.on('message', (m) => {
  if (m.type !== 'go') return;
  runBackfill({ sql, fs, model: Account, name: 'bench', chunkSize: m.chunkSize, worker: m.worker })
    .then((report) => {
      process.send({ type: 'done', ...report });
    })
    .catch((err) => {
      process.send({ type: 'error', message: String(err?.code ?? err?.message ?? err) });
    })
    .finally(() => {
      fs.close();
      void pool.end().then(() => process.disconnect());
    });
});
process.send({ type: 'ready' });
