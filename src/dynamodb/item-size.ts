import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { ValueTooLargeError } from '../index.js';
import type { DynamoItem } from './item-codec.js';

/** DynamoDB's maximum item size: 400 KB, attribute names included. @internal */
export const DYNAMODB_ITEM_LIMIT = 400 * 1024;

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * The size DynamoDB counts for one attribute value, as documented ("Item sizes and formats"):
 * strings as UTF-8 bytes, binary as raw bytes, numbers at most 21 bytes (we count an upper
 * bound, so a refused item is never one DynamoDB would have taken by much).
 */
function valueSize(a: AttributeValue): number {
  if (a.S !== undefined) return utf8(a.S);
  if (a.B !== undefined) return a.B.byteLength;
  if (a.N !== undefined) return Math.min(21, a.N.length + 1);
  if (a.BOOL !== undefined || a.NULL !== undefined) return 1;
  // Types this codec never writes (lists, maps, sets) are not sized here.
  return 0;
}

/**
 * Refuse an item larger than DynamoDB's 400 KB limit before anything is written, naming the
 * largest attribute (its name only, never its value).
 * @throws ValueTooLargeError with `details.field` = `table.attribute`.
 * @internal
 */
export function assertItemSize(table: string, item: DynamoItem): void {
  let total = 0;
  let largest = '';
  let largestSize = -1;
  for (const [name, value] of Object.entries(item)) {
    const size = utf8(name) + valueSize(value);
    total += size;
    if (size > largestSize) {
      largest = name;
      largestSize = size;
    }
  }
  if (total > DYNAMODB_ITEM_LIMIT) {
    throw new ValueTooLargeError(
      `item of ${table} is ${total} bytes after encryption, over DynamoDB's 400 KB limit ` +
        `(largest attribute: ${largest}, ${largestSize} bytes)`,
      { details: { field: `${table}.${largest}` } },
    );
  }
}
