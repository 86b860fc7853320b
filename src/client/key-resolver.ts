/**
 * The provider contexts moved to `keys/provider-context.ts` with the split of the key
 * resolver (issue #13); re-exported here only for test/vectors/envelope-v1.test.ts, which
 * imports them from this path. Remove once that test imports `keys/provider-context.js`.
 * @internal
 */
export { embeddedContext, storeContext } from './keys/provider-context.js';
