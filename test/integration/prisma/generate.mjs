// Generates the Prisma client of fieldseal/prisma's tests (test/integration/prisma/generated),
// offline: `prisma generate` would download the schema engine, which it does not use for
// generating; pointing PRISMA_SCHEMA_ENGINE_BINARY at any executable makes it generate from
// its bundled WebAssembly (an unsupported knob: package.json pins Prisma's exact version).
// Skips when the generated client is of the current schema. Run by `npm run prepare` (so
// type-checking and linting see the client) and by the test run's global setup.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const schema = join(here, 'schema.prisma');
const generatedSchema = join(here, 'generated', 'schema.prisma');
const root = join(here, '..', '..', '..');

const current =
  existsSync(generatedSchema) &&
  existsSync(join(here, 'generated', 'index.d.ts')) &&
  readFileSync(generatedSchema, 'utf8') === readFileSync(schema, 'utf8');
if (!current) {
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'prisma', 'build', 'index.js'), 'generate', '--schema', schema],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        PRISMA_SCHEMA_ENGINE_BINARY: existsSync('/bin/true') ? '/bin/true' : process.execPath,
        CHECKPOINT_DISABLE: '1',
        PRISMA_HIDE_UPDATE_MESSAGE: '1',
      },
    },
  );
}
