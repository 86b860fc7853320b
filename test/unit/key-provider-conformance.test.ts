import { EnvSecretSource, LocalKeyProvider } from '../../src/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { keyProviderConformance } from '../conformance/key-provider-suite.js';

keyProviderConformance('LocalKeyProvider', () =>
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

keyProviderConformance('MemoryKeyProvider', () =>
  Promise.resolve({
    provider: new MemoryKeyProvider({ masterKeys: ['a', 'b'] }),
    masterKeys: ['a', 'b'] as const,
    unknownMasterKey: 'missing',
  }),
);
