import { afterAll, beforeAll, describe, it } from 'vitest';
import { EnvSecretSource, LocalKeyProvider } from '../../src/index.js';
import { MemoryKeyProvider, runKeyProviderSuite } from '../../src/testing/index.js';

runKeyProviderSuite({ describe, it, beforeAll, afterAll }, 'LocalKeyProvider', () =>
  Promise.resolve({
    provider: new LocalKeyProvider({
      source: new EnvSecretSource({
        keys: { a: 'A', b: 'B' },
        env: { A: `hex:${'11'.repeat(32)}`, B: `hex:${'22'.repeat(32)}` },
      }),
    }),
    masterKeys: ['a', 'b'] as const,
    unknownMasterKey: 'missing',
  }),
);

runKeyProviderSuite({ describe, it, beforeAll, afterAll }, 'MemoryKeyProvider', () =>
  Promise.resolve({
    provider: new MemoryKeyProvider({ masterKeys: ['a', 'b'] }),
    masterKeys: ['a', 'b'] as const,
    unknownMasterKey: 'missing',
  }),
);
