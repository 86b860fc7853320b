import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/config-file.js';

/* fieldseal.config.json validation: the optional acceptMasterKeyIds list. */
const base = {
  version: 1,
  database: { kind: 'pglite', dataDir: 'db' },
  provider: { kind: 'local', keyFile: 'master.key', masterKeyId: 'master' },
  keyId: 'default',
  cache: { maxAgeSeconds: 300 },
};

describe('validateConfig', () => {
  it('takes historic master keys reads accept, frozen', () => {
    const config = validateConfig({ ...base, acceptMasterKeyIds: ['master-2024'] }, '/tmp');
    expect(config.acceptMasterKeyIds).toEqual(['master-2024']);
    expect(Object.isFrozen(config.acceptMasterKeyIds)).toBe(true);
    expect(validateConfig(base, '/tmp').acceptMasterKeyIds).toBeUndefined();
  });

  it.each([['master'], [['']], [[1]], [{}]])('refuses acceptMasterKeyIds = %j', (bad) => {
    expect(() => validateConfig({ ...base, acceptMasterKeyIds: bad }, '/tmp')).toThrow(
      /config\.acceptMasterKeyIds/,
    );
  });
});
