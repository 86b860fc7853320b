import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Fieldseal } from '../../index.js';
import type { SealedTables } from './sealed-tables.js';

/*
 * What the helpers of a sealed document client (findByBlindIndex) need of it, kept beside the
 * client rather than on it: a caller cannot forge or change it. All internal.
 */

/** A sealed client's configuration. @internal */
export interface SealedClientState {
  readonly fs: Fieldseal;
  readonly tables: SealedTables;
  /** A document client over the same base client without the sealing, for fieldseal's own reads. */
  readonly plain: DynamoDBDocumentClient;
}

const states = new WeakMap<object, SealedClientState>();

/** Remember `client` as a sealed client. @internal */
export function registerSealedClient(client: object, state: SealedClientState): void {
  states.set(client, state);
}

/**
 * The state of a sealed client.
 * @throws TypeError when `client` is not one `sealDocumentClient` returned.
 * @internal
 */
export function sealedClientState(client: unknown): SealedClientState {
  const state = typeof client === 'object' && client !== null ? states.get(client) : undefined;
  if (state === undefined) {
    throw new TypeError('expected a document client returned by sealDocumentClient');
  }
  return state;
}
