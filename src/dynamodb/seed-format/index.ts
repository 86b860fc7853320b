/**
 * Reader of the DynamoDB seed library's (pydynox) legacy `ENC:` values, for migration into
 * fieldseal envelopes. See docs/dynamodb-seed-migration.md.
 */
export { MAX_SEED_TEXT_LENGTH, SEED_PREFIX, type SeedEnvelope } from './seed-format.js';
export { isSeedValue, parseSeedValue } from './parse-seed-value.js';
export {
  openSeedValue,
  openSeedValues,
  type OpenSeedValuesOptions,
  type SeedValueItem,
} from './open-seed-values.js';
