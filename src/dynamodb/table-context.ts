import type { WrittenIndexColumn } from '../integration/index.js';
import type { IndexConfig } from '../integration/index.js';
import type { TenantSecrets } from '../integration/index.js';
import type { Fieldseal } from '../index.js';
import type { ModelSchema } from '../integration/index.js';
import type { AnyModel } from '../index.js';
import type { Sender } from './batch-requests.js';
import type { ItemRecords } from './item-records.js';
import type { KeyLayout } from './table-keys.js';

/*
 * What the parts of a DynamoDB repository share: its table, model and client, and its
 * blind-index state. Types only, so every part can import them without importing another part.
 */

/** What a transaction needs of its repository. @internal */
export interface TableContext<M extends AnyModel> {
  readonly client: Sender;
  readonly fs: Fieldseal;
  readonly model: M;
  readonly plan: ModelSchema;
  readonly layout: KeyLayout;
  readonly tableName: string;
  readonly records: ItemRecords<M>;
}

/** The blind-index state of one repository. @internal */
export interface BlindIndexState {
  readonly config: IndexConfig;
  readonly secrets: TenantSecrets;
  readonly written: readonly WrittenIndexColumn[];
  readonly secretsTable: string;
}

/** What the writes need of their repository. @internal */
export interface WriteContext<M extends AnyModel> extends TableContext<M> {
  readonly records: ItemRecords<M>;
  readonly blindIndex: BlindIndexState | undefined;
}
