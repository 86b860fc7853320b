import { UnsupportedOptionError, type FieldValue, type Fieldseal } from '../../index.js';
import {
  absentError,
  contextOf,
  hasKind,
  kindError,
  openStoredValues,
  ownData,
  scopeOf,
  sealFieldValues,
  type FieldValueToSeal,
  type RecordScope,
  type StoredFieldValue,
} from '../../integration/index.js';
import { refsOf, updateClauses, type UpdateClause } from './expressions.js';
import { IndexAttributes } from './index-attributes.js';
import { snapshotInput, tableNameOf } from './input-snapshot.js';
import type { SealedTable, SealedTables } from './sealed-tables.js';

/*
 * One command of a sealed document client, in the document form (before the SDK marshals it):
 * its items' encrypted attributes sealed with each item's context (one batch per command),
 * every expression checked for references to encrypted attributes, and the items of its
 * output decrypted (one batch per table). All internal.
 */

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Refuse, naming `table.attribute`. */
function refuse(table: string, attribute: string, why: string): never {
  throw new UnsupportedOptionError(`attribute ${table}.${attribute}: ${why}`, {
    details: { field: `${table}.${attribute}` },
  });
}

/** A snapshot of a caller's object: own enumerable data only. */
function own(table: string, value: unknown, what: string): Obj {
  if (!isObj(value)) refuse(table, '*', `expected ${what} to be an object`);
  return { ...ownData(value, (_why, key) => refuse(table, key, 'must be a plain data property')) };
}

/** What a command does once the SDK answered. */
/**
 * What a command does once the SDK answered: the output the caller gets, decrypted into copies
 * (the SDK's objects, which inner middleware may have kept, never hold plaintext).
 */
type Opener = (output: Obj) => Promise<Obj>;

/** The output of a command with nothing to decrypt. */
const asIs: Opener = (output) => Promise.resolve(output);

/** A command's input as sent, and how to read its output. @internal */
export interface PlannedCommand {
  readonly input: Obj;
  readonly open: Opener;
}

const PARTIQL = new Set([
  'ExecuteStatementCommand',
  'BatchExecuteStatementCommand',
  'ExecuteTransactionCommand',
]);

/** One value to seal, and where its envelope goes. */
type Slot = FieldValueToSeal & { readonly target: Obj; readonly key: string };

/** The sealing of one command: its values, and the items to read back. */
class CommandPlan {
  readonly #fs: Fieldseal;
  readonly #tables: SealedTables;
  readonly #slots: Slot[] = [];
  readonly #reads: {
    table: SealedTable;
    item: Obj;
    copy: Obj;
    scope: RecordScope | undefined;
  }[] = [];
  readonly #indexes = new IndexAttributes();
  /** The item an update writes, when its tenant is known (from its Key or the update). */
  updatedScope: RecordScope | undefined;
  #row = 0;

  constructor(fs: Fieldseal, tables: SealedTables) {
    this.#fs = fs;
    this.#tables = tables;
  }

  table(name: unknown): SealedTable | undefined {
    if (name !== undefined && typeof name !== 'string' && this.#tables.size > 0) {
      refuse('*', 'TableName', 'a table name is a string');
    }
    const resolved = tableNameOf(name);
    return resolved === undefined ? undefined : this.#tables.get(resolved);
  }

  /** Refuse a key (Key, ExclusiveStartKey, a batch's Keys) that holds an encrypted attribute. */
  keys(table: SealedTable, ...keys: unknown[]): void {
    for (const key of keys) {
      if (!isObj(key)) continue;
      const sealedName = Object.keys(key).find((k) => table.encrypted.has(k));
      if (sealedName !== undefined) {
        refuse(
          table.name,
          sealedName,
          'an encrypted attribute cannot be a key: its ciphertext differs for each item',
        );
      }
    }
  }

  /** Refuse an expression of `table` that refers to an encrypted attribute. */
  expressions(table: SealedTable, request: Obj, keys: readonly string[], why: string): void {
    const names = request.ExpressionAttributeNames as Record<string, string> | undefined;
    for (const key of keys) {
      if (request[key] !== undefined && typeof request[key] !== 'string') {
        refuse(table.name, '*', `${key} is not a string: it is not checked`);
      }
      for (const name of refsOf(request[key], names).names) {
        if (table.encrypted.has(name)) refuse(table.name, name, why);
        indexAttribute(table, name);
      }
    }
    for (const legacy of LEGACY) {
      if (request[legacy] !== undefined) {
        refuse(table.name, '*', `the legacy parameter ${legacy} is not checked: use expressions`);
      }
    }
  }

  /** The projection must bring an item's tenant and key with its encrypted attributes. */
  projection(table: SealedTable, request: Obj): void {
    if (request.ProjectionExpression === undefined) return;
    if (typeof request.ProjectionExpression !== 'string') {
      refuse(table.name, '*', 'ProjectionExpression is not a string: it is not checked');
    }
    const names = refsOf(
      request.ProjectionExpression,
      request.ExpressionAttributeNames as Record<string, string> | undefined,
    ).names;
    const sealedName = [...names].find((n) => table.encrypted.has(n));
    if (sealedName === undefined) return;
    for (const k of [table.schema.tenant, ...table.schema.key]) {
      if (!names.has(k)) {
        refuse(
          table.name,
          sealedName,
          `project ${k} with it: the item's tenant and key are its values' context`,
        );
      }
    }
  }

  /** A whole item (Put): every encrypted attribute sealed with the item's context. */
  item(table: SealedTable, given: unknown): Obj {
    const item = own(table.name, given, 'the item');
    const row = this.#row++;
    const { schema } = table;
    if (typeof item[schema.tenant] !== 'string') {
      refuse(
        table.name,
        schema.tenant,
        'every item of a sealed table carries its tenant (a string)',
      );
    }
    const scope = scopeOf(schema, item);
    for (const f of schema.encrypted) this.#queue(table, item, f.name, f.name, scope, row);
    this.#indexes.item(table, item);
    return item;
  }

  /** Queue `target[key]` (the value of encrypted attribute `name`) to be sealed. */
  #queue(
    table: SealedTable,
    target: Obj,
    key: string,
    name: string,
    scope: RecordScope,
    row: number,
  ): void {
    const field = table.schema.encrypted.find((f) => f.name === name)!;
    const value = target[key];
    if (value === undefined || value === null) {
      const error = absentError(field, value, 'encrypt');
      if (error !== undefined) throw error;
      return;
    }
    if (!hasKind(field.kind, value)) throw kindError(field, 'encrypt');
    const context = contextOf(table.schema, field, scope);
    this.#slots.push({ row, field, value: value as FieldValue, context, target, key });
  }

  /**
   * An update: only plain `SET a = :v` of encrypted attributes, sealed with the context of the
   * item `Key` names (its tenant must be in the Key).
   */
  update(table: SealedTable, given: Obj): Obj {
    const request = { ...given };
    this.keys(table, request.Key);
    const names = request.ExpressionAttributeNames as Record<string, string> | undefined;
    this.expressions(
      table,
      request,
      ['ConditionExpression'],
      'a condition cannot evaluate ciphertext',
    );
    if (request.AttributeUpdates !== undefined) {
      refuse(
        table.name,
        '*',
        'the legacy parameter AttributeUpdates is not checked: use UpdateExpression',
      );
    }
    const key = own(table.name, request.Key, 'Key');
    const { schema } = table;
    if (request.UpdateExpression !== undefined && typeof request.UpdateExpression !== 'string') {
      refuse(table.name, '*', 'UpdateExpression is not a string: it is not checked');
    }
    let scope = Object.hasOwn(key, schema.tenant) ? scopeOf(schema, key) : undefined;
    if (typeof request.UpdateExpression === 'string') {
      let clauses: ReturnType<typeof updateClauses>;
      try {
        clauses = updateClauses(request.UpdateExpression, names);
      } catch {
        return refuse(table.name, '*', 'the update expression is not understood: it is not sent');
      }
      const uses = new Map<string, number>();
      for (const text of [...clauses.map((c) => c.text), request.ConditionExpression]) {
        for (const v of refsOf(text as string | undefined, names).values) {
          uses.set(v, (uses.get(v) ?? 0) + 1);
        }
      }
      const values = own(
        table.name,
        request.ExpressionAttributeValues ?? {},
        'ExpressionAttributeValues',
      );
      // The tenant set by the update itself (ElectroDB sets its composite attributes): the
      // item's context, on the condition that the stored item has no other tenant.
      const tenantSet = clauses.find((c) => refsOf(c.text, names).names.has(schema.tenant));
      if (scope === undefined && tenantSet !== undefined) {
        const value =
          tenantSet.plain?.target === schema.tenant ? values[tenantSet.plain.value] : undefined;
        if (typeof value !== 'string') {
          refuse(table.name, schema.tenant, 'the tenant can only be set to a string (SET #t = :t)');
        }
        scope = scopeOf(schema, { ...key, [schema.tenant]: value });
        guardTenant(request, values, schema.tenant, value);
      } else if (tenantSet !== undefined && tenantSet.plain?.target !== schema.tenant) {
        refuse(table.name, schema.tenant, 'the tenant can only be set whole (SET #t = :t)');
      }
      const row = this.#row++;
      // The blind-indexed attributes the update sets (their values) or removes (null).
      const indexed: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const c of clauses) {
        const refs = [...refsOf(c.text, names).names];
        for (const n of refs) indexAttribute(table, n);
        const touched = refs.filter((n) => table.encrypted.has(n));
        if (touched.length === 0) continue;
        if (c.action === 'REMOVE' && removesWhole(c.text, names) === touched[0]) {
          // Removing a whole optional attribute binds nothing: there is no value to seal.
          const field = schema.encrypted.find((f) => f.name === touched[0])!;
          const error = absentError(field, undefined, 'encrypt');
          if (error !== undefined) throw error;
          indexed[touched[0]!] = null;
          continue;
        }
        const plain = c.plain;
        if (plain === undefined || touched.length > 1 || !table.encrypted.has(plain.target)) {
          refuse(
            table.name,
            touched[0]!,
            'an encrypted attribute can only be set whole (SET #a = :v): nothing can be computed on ciphertext',
          );
        }
        if (uses.get(plain.value) !== 1) {
          refuse(
            table.name,
            plain.target,
            `${plain.value} is used elsewhere in the request: give the encrypted value its own placeholder`,
          );
        }
        if (scope === undefined) {
          refuse(
            table.name,
            plain.target,
            `neither the Key nor the update holds the tenant (${schema.tenant}): the item's context is unknown; put the whole item`,
          );
        }
        this.#queue(table, values, plain.value, plain.target, scope, row);
        indexed[plain.target] = values[plain.value] ?? null;
      }
      // DynamoDB refuses an empty map: an update with no values keeps none.
      if (request.ExpressionAttributeValues !== undefined || Object.keys(values).length > 0) {
        request.ExpressionAttributeValues = values;
      }
      this.updatedScope = scope;
      const indexedNames = Object.keys(indexed).filter((n) => table.isIndexedField(n));
      this.#indexes.update({
        table,
        tenant: scope?.tenant,
        values: Object.fromEntries(indexedNames.map((n) => [n, indexed[n]])),
        apply: (set, remove) => withIndexClauses(request, clauses, set, remove),
      });
    }
    return request;
  }

  /**
   * An output item of `table`: the copy of it the caller gets, decrypted by {@link open}
   * (anything but an object is returned as it is).
   */
  read<T>(table: SealedTable, item: T, scope?: RecordScope): T {
    if (!isObj(item)) return item;
    const copy = { ...item };
    this.#reads.push({ table, item, copy, scope });
    return copy;
  }

  async seal(): Promise<void> {
    // The indexes read the plaintext the sealing replaces.
    await this.#indexes.compute();
    const sealed = await sealFieldValues(this.#fs, this.#slots);
    this.#slots.forEach((s, i) => {
      const stored = sealed[i]!;
      s.target[s.key] = typeof stored === 'string' ? stored : new Uint8Array(stored);
    });
  }

  async open(): Promise<void> {
    const byTable = new Map<SealedTable, { values: StoredFieldValue[]; owners: Obj[] }>();
    for (const { table, item, copy, scope } of this.#reads) {
      const present = table.schema.encrypted.filter((f) => Object.hasOwn(item, f.name));
      if (present.length === 0) continue;
      let itemScope = scope;
      if (itemScope === undefined) {
        for (const k of [table.schema.tenant, ...table.schema.key]) {
          if (!Object.hasOwn(item, k)) {
            refuse(
              table.name,
              present[0]!.name,
              `the item lacks ${k}, part of its values' context: project it`,
            );
          }
        }
        itemScope = scopeOf(table.schema, item);
      }
      let entry = byTable.get(table);
      if (entry === undefined) {
        entry = { values: [], owners: [] };
        byTable.set(table, entry);
      }
      const row = entry.owners.length;
      for (const field of present) {
        entry.values.push({ row, field, stored: item[field.name], scope: itemScope });
        entry.owners.push(copy);
      }
    }
    for (const [table, { values, owners }] of byTable) {
      const plain = await openStoredValues(this.#fs, table.schema, values);
      values.forEach((v, i) => (owners[i]![v.field.name] = plain[i]));
    }
  }
}

/** The top-level attribute a `REMOVE` clause names whole (`#a` or `a`), if that is all it is. */
function removesWhole(
  text: string,
  names: Readonly<Record<string, string>> | undefined,
): string | undefined {
  const m = /^(#[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*)$/.exec(text.trim());
  if (m === null) return undefined;
  const path = m[1]!;
  return path.startsWith('#') ? names?.[path] : path;
}

/** DynamoDB's limit on the length of one expression (4 KB). */
const MAX_EXPRESSION_LENGTH = 4096;

/** Refuse a reference to one of fieldseal's blind-index attributes. */
function indexAttribute(table: SealedTable, name: string): void {
  if (table.isIndexAttribute(name)) {
    refuse(
      table.name,
      name,
      'blind-index attributes are written and matched by fieldseal only: look values up with findByBlindIndex',
    );
  }
}

/**
 * Rewrite an update expression from its clauses with the index attributes it sets and
 * removes added (DynamoDB allows each action keyword once).
 */
function withIndexClauses(
  request: Obj,
  clauses: readonly UpdateClause[],
  set: Readonly<Record<string, string>>,
  remove: readonly string[],
): void {
  const names = { ...(request.ExpressionAttributeNames as Record<string, string> | undefined) };
  const values = (request.ExpressionAttributeValues ?? {}) as Obj;
  const groups: Record<UpdateClause['action'], string[]> = {
    SET: [],
    REMOVE: [],
    ADD: [],
    DELETE: [],
  };
  for (const c of clauses) groups[c.action].push(c.text);
  let n = 0;
  const fresh = (): string => {
    while (`#fsi${n}` in names || `:fsi${n}` in values) n++;
    return `fsi${n++}`;
  };
  for (const [attribute, value] of Object.entries(set)) {
    const p = fresh();
    names[`#${p}`] = attribute;
    values[`:${p}`] = value;
    groups.SET.push(`#${p} = :${p}`);
  }
  for (const attribute of remove) {
    const p = fresh();
    names[`#${p}`] = attribute;
    groups.REMOVE.push(`#${p}`);
  }
  request.UpdateExpression = Object.entries(groups)
    .filter(([, list]) => list.length > 0)
    .map(([action, list]) => `${action} ${list.join(', ')}`)
    .join(' ');
  request.ExpressionAttributeNames = names;
  if (Object.keys(values).length > 0) request.ExpressionAttributeValues = values;
  if ((request.UpdateExpression as string).length > MAX_EXPRESSION_LENGTH) {
    refuse(
      '*',
      '*',
      `the update expression with its blind-index clauses is longer than DynamoDB's ${MAX_EXPRESSION_LENGTH} characters: set fewer blind-indexed attributes in one update`,
    );
  }
}

/**
 * Add to an update's condition that the stored item, if any, has the tenant the update sets:
 * its other encrypted attributes are bound to it.
 */
function guardTenant(request: Obj, values: Obj, tenant: string, value: string): void {
  const names = { ...(request.ExpressionAttributeNames as Record<string, string> | undefined) };
  let n = 0;
  while (`#fieldsealTenant${n}` in names || `:fieldsealTenant${n}` in values) n++;
  names[`#fieldsealTenant${n}`] = tenant;
  values[`:fieldsealTenant${n}`] = value;
  const guard = `(attribute_not_exists(#fieldsealTenant${n}) OR #fieldsealTenant${n} = :fieldsealTenant${n})`;
  const existing = request.ConditionExpression;
  request.ConditionExpression = typeof existing === 'string' ? `(${existing}) AND ${guard}` : guard;
  request.ExpressionAttributeNames = names;
}

const TRANSACT_WRITES = new Set(['Put', 'Update', 'Delete', 'ConditionCheck']);
const LEGACY = ['Expected', 'QueryFilter', 'ScanFilter', 'KeyConditions', 'AttributesToGet'];
const NO_CONDITION = 'a condition cannot evaluate ciphertext';
const NO_FILTER = 'a key condition or filter cannot evaluate ciphertext';

const items = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * Plan one command (document form): seal what it writes, check what it asks, and say how to
 * read what it returns. Undefined for a command that touches no sealed table.
 * @throws UnsupportedOptionError naming `table.attribute` for what cannot be bound to an item
 *   or evaluated on ciphertext; the client's errors for values it refuses.
 * @internal
 */
export async function planCommand(
  fs: Fieldseal,
  tables: SealedTables,
  commandName: string,
  given: unknown,
): Promise<PlannedCommand | undefined> {
  if (!isObj(given)) {
    if (tables.size === 0) return undefined;
    return refuse('*', '*', 'a document command input is an object');
  }
  const plan = new CommandPlan(fs, tables);
  // Every path sends this snapshot, never the caller's objects (see input-snapshot.ts).
  const input = snapshotInput(given) as Obj;
  let open: Opener = asIs;
  // The request sent: the snapshot, or (for an update) the request built from it.
  let sent = input;
  const single = plan.table(input.TableName);
  if (PARTIQL.has(commandName)) {
    if (tables.size > 0) {
      refuse(
        '*',
        '*',
        'PartiQL statements are not parsed by the sealed document client: use the item commands',
      );
    }
    return unsealed(input);
  }
  switch (commandName) {
    case 'PutItemCommand':
      if (single === undefined) return unsealed(input);
      plan.expressions(single, input, ['ConditionExpression'], NO_CONDITION);
      input.Item = plan.item(single, input.Item);
      open = async (out) => {
        if (!Object.hasOwn(out, 'Attributes')) return out;
        const Attributes = plan.read(single, out.Attributes);
        await plan.open();
        return { ...out, Attributes };
      };
      break;
    case 'UpdateItemCommand': {
      if (single === undefined) return unsealed(input);
      sent = plan.update(single, input);
      const key = input.Key as Obj;
      // UPDATED_NEW / UPDATED_OLD return some attributes only: the item is the one the Key
      // names, with the tenant from the Key or from the update.
      const scope =
        plan.updatedScope ??
        (Object.hasOwn(key, single.schema.tenant) ? scopeOf(single.schema, key) : undefined);
      open = async (out) => {
        if (!Object.hasOwn(out, 'Attributes')) return out;
        const Attributes = plan.read(single, out.Attributes, scope);
        await plan.open();
        return { ...out, Attributes };
      };
      break;
    }
    case 'DeleteItemCommand':
      if (single === undefined) return unsealed(input);
      plan.keys(single, input.Key);
      plan.expressions(single, input, ['ConditionExpression'], NO_CONDITION);
      open = async (out) => {
        if (!Object.hasOwn(out, 'Attributes')) return out;
        const Attributes = plan.read(single, out.Attributes);
        await plan.open();
        return { ...out, Attributes };
      };
      break;
    case 'GetItemCommand':
      if (single === undefined) return unsealed(input);
      plan.keys(single, input.Key);
      plan.expressions(single, input, [], NO_FILTER);
      plan.projection(single, input);
      open = async (out) => {
        if (!Object.hasOwn(out, 'Item')) return out;
        const Item = plan.read(single, out.Item);
        await plan.open();
        return { ...out, Item };
      };
      break;
    case 'QueryCommand':
    case 'ScanCommand':
      if (single === undefined) return unsealed(input);
      plan.keys(single, input.ExclusiveStartKey);
      plan.expressions(single, input, ['KeyConditionExpression', 'FilterExpression'], NO_FILTER);
      plan.projection(single, input);
      open = async (out) => {
        if (!Array.isArray(out.Items)) return out;
        const Items = out.Items.map((item: unknown) => plan.read(single, item));
        await plan.open();
        return { ...out, Items };
      };
      break;
    case 'BatchGetItemCommand': {
      const requests = own('*', input.RequestItems, 'RequestItems');
      let sealed = false;
      for (const [name, request] of Object.entries(requests)) {
        const table = plan.table(name);
        if (table === undefined || !isObj(request)) continue;
        sealed = true;
        plan.keys(table, ...items(request.Keys));
        plan.expressions(table, request, [], NO_FILTER);
        plan.projection(table, request);
      }
      if (!sealed) return unsealed(input);
      open = async (out) => {
        if (!isObj(out.Responses)) return out;
        const Responses: Obj = { ...out.Responses };
        for (const [name, list] of Object.entries(Responses)) {
          const table = plan.table(name);
          if (table !== undefined && Array.isArray(list)) {
            Responses[name] = list.map((item: unknown) => plan.read(table, item));
          }
        }
        await plan.open();
        return { ...out, Responses };
      };
      break;
    }
    case 'BatchWriteItemCommand': {
      const requests = own('*', input.RequestItems, 'RequestItems');
      const originals = new Map<string, unknown>();
      let sealed = false;
      for (const [name, list] of Object.entries(requests)) {
        const table = plan.table(name);
        if (table === undefined) continue;
        sealed = true;
        requests[name] = items(list).map((request) => {
          if (isObj(request) && isObj(request.DeleteRequest)) {
            plan.keys(table, request.DeleteRequest.Key);
          }
          if (!isObj(request) || !isObj(request.PutRequest)) return request;
          const item = plan.item(table, request.PutRequest.Item);
          originals.set(identity(table, item), request.PutRequest.Item);
          return { ...request, PutRequest: { ...request.PutRequest, Item: item } };
        });
      }
      if (!sealed) return unsealed(input);
      input.RequestItems = requests;
      open = (out) => {
        // Unprocessed puts go back as the caller wrote them: a retry seals them again.
        if (!isObj(out.UnprocessedItems)) return Promise.resolve(out);
        const UnprocessedItems: Obj = { ...out.UnprocessedItems };
        for (const [name, list] of Object.entries(UnprocessedItems)) {
          const table = plan.table(name);
          if (table === undefined || !Array.isArray(list)) continue;
          UnprocessedItems[name] = list.map((request: unknown) => {
            if (!isObj(request) || !isObj(request.PutRequest) || !isObj(request.PutRequest.Item))
              return request;
            const original = originals.get(identity(table, request.PutRequest.Item));
            if (original === undefined) {
              refuse(table.name, '*', 'an unprocessed item cannot be matched to the one written');
            }
            return { ...request, PutRequest: { ...request.PutRequest, Item: original } };
          });
        }
        return Promise.resolve({ ...out, UnprocessedItems });
      };
      break;
    }
    case 'TransactWriteItemsCommand': {
      let sealed = false;
      input.TransactItems = items(input.TransactItems).map((entry) => {
        // Exactly one action per entry: the SDK sends the ones it knows, whatever comes first.
        const actions = isObj(entry) ? Object.keys(entry) : [];
        if (actions.length !== 1 || !TRANSACT_WRITES.has(actions[0]!)) {
          return refuse(
            '*',
            '*',
            'each transaction entry holds exactly one of Put, Update, Delete, ConditionCheck',
          );
        }
        const action = actions[0]!;
        const request = (entry as Obj)[action];
        if (!isObj(request)) return entry;
        const table = plan.table(request.TableName);
        if (table === undefined) return entry;
        sealed = true;
        switch (action) {
          case 'Put':
            plan.expressions(table, request, ['ConditionExpression'], NO_CONDITION);
            return { Put: { ...request, Item: plan.item(table, request.Item) } };
          case 'Update':
            return { Update: plan.update(table, request) };
          case 'Delete':
          case 'ConditionCheck':
            plan.keys(table, request.Key);
            plan.expressions(table, request, ['ConditionExpression'], NO_CONDITION);
            return entry;
          default:
            return refuse(
              table.name,
              '*',
              `fieldseal does not know the transaction action ${action}`,
            );
        }
      });
      if (!sealed) return unsealed(input);
      break;
    }
    case 'TransactGetItemsCommand': {
      const gets = items(input.TransactItems).map((entry) =>
        isObj(entry) && isObj(entry.Get) ? plan.table(entry.Get.TableName) : undefined,
      );
      if (gets.every((t) => t === undefined)) return unsealed(input);
      items(input.TransactItems).forEach((entry, i) => {
        const table = gets[i];
        if (table !== undefined && isObj(entry) && isObj(entry.Get))
          plan.projection(table, entry.Get);
      });
      open = async (out) => {
        if (!Array.isArray(out.Responses)) return out;
        const Responses = out.Responses.map((response: unknown, i) => {
          const table = gets[i];
          if (table === undefined || !isObj(response) || !Object.hasOwn(response, 'Item')) {
            return response;
          }
          return { ...response, Item: plan.read(table, response.Item) };
        });
        await plan.open();
        return { ...out, Responses };
      };
      break;
    }
    default:
      // A document command this sealing does not know (a newer SDK's) could carry values to
      // or from a sealed table unchecked: refused while any table is sealed.
      if (tables.size > 0) {
        refuse('*', '*', `the sealed document client does not know ${commandName}: it is not sent`);
      }
      return unsealed(input);
  }
  await plan.seal();
  return { input: sent, open };
}

/**
 * `items` of `table` decrypted, as copies (one batch).
 * @throws UnsupportedOptionError for an item without its tenant or key; the decryption errors.
 * @internal
 */
export async function openItems(
  fs: Fieldseal,
  table: SealedTable,
  items: readonly Obj[],
): Promise<Obj[]> {
  const plan = new CommandPlan(fs, new Map());
  const copies = items.map((item) => plan.read(table, item));
  await plan.open();
  return copies;
}

/** A command that touches no sealed table: sent as its snapshot. */
function unsealed(input: Obj): PlannedCommand {
  return { input, open: asIs };
}

/**
 * An item's table, tenant and key, as one string (to match an unprocessed item to its
 * original: two tables of one batch may hold items of the same key).
 */
function identity(table: SealedTable, item: Obj): string {
  const scope = scopeOf(table.schema, item);
  return JSON.stringify([table.name, scope.tenant, scope.record]);
}
