#!/usr/bin/env node
/**
 * The `fieldseal` executable. Its CLI framework (`commander`) and the embedded database
 * (`@electric-sql/pglite`) are optional peer dependencies, so an application that imports only
 * the library installs neither. This entry checks for the framework before loading the CLI and
 * says what to install, instead of failing with a module-resolution stack trace; the embedded
 * database is checked where a command first needs it.
 */

/** Whether `name` resolves from this package (never loads it). */
function installed(name: string): boolean {
  try {
    import.meta.resolve(name);
    return true;
  } catch {
    return false;
  }
}

if (installed('commander')) {
  await import('./main.js');
} else {
  const message =
    'fieldseal: the command-line interface needs the `commander` package, an optional peer ' +
    'dependency. Install it next to fieldseal: npm install commander';
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ error: { code: 'ERR_MISSING_PEER', message } }));
  } else {
    console.error(message);
  }
  process.exitCode = 1;
}
