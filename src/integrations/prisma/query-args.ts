import { UnsupportedOptionError } from '../../index.js';

/*
 * A Prisma query's arguments as fieldseal reads them: one snapshot of the caller's objects,
 * whose containers are null-prototype objects holding own data only, so that what fieldseal
 * checks and seals is exactly what Prisma serialises. All internal.
 */

/** A container of a snapshot (a null-prototype object). @internal */
export type Obj = Record<string, unknown>;

/** Whether a value is a container of a snapshot (or one fieldseal made): plain data. @internal */
export const isObject = (v: unknown): v is Obj => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === null || proto === Object.prototype;
};

/** An argument that may be one value or a list of them, as a list. @internal */
export const items = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** The constructor name of a value's class, if any. */
const className = (v: object): unknown =>
  (Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null)?.constructor?.name;

/**
 * `null`, or Prisma's `DbNull` / `JsonNull` / `AnyNull` (the NULLs of a Json column).
 * @internal
 */
export function isNull(value: unknown): boolean {
  if (value === null) return true;
  if (typeof value !== 'object') return false;
  const name = className(value);
  return name === 'DbNull' || name === 'JsonNull' || name === 'AnyNull';
}

/** A reference to another field (`prisma.customer.fields.name`). @internal */
export interface FieldReference {
  readonly modelName: string;
  readonly name: string;
}

const isFieldReference = (v: object): v is FieldReference =>
  typeof (v as { modelName?: unknown }).modelName === 'string' &&
  typeof (v as { name?: unknown }).name === 'string' &&
  typeof (v as { _toGraphQLInputType?: unknown })._toGraphQLInputType === 'function';

const isDecimal = (v: object): boolean => {
  const ctor = (v as { constructor?: { isDecimal?: unknown } }).constructor;
  return typeof ctor?.isDecimal === 'function' && (ctor.isDecimal as (x: unknown) => boolean)(v);
};

/** How deep a query's arguments may nest (JSON values included). */
const MAX_DEPTH = 256;

const refuse = (why: string): never => {
  throw new UnsupportedOptionError(`prisma query arguments: ${why}`, { details: { field: '?.?' } });
};

/**
 * One read of a query's arguments: arrays and plain objects copied into null-prototype
 * containers (own enumerable data properties only), values of Prisma's own kinds (dates,
 * bytes, decimals, the Json NULLs, field references) kept. Anything Prisma could serialise
 * differently from what fieldseal reads is refused: accessors, functions (`toJSON`), a
 * `__proto__` key, objects of other classes.
 * @returns the snapshot and the field references it holds.
 * @throws UnsupportedOptionError naming what was refused (never a value).
 * @internal
 */
export function snapshotArgs(value: unknown): { args: unknown; references: FieldReference[] } {
  const references: FieldReference[] = [];
  const copy = (v: unknown, depth: number): unknown => {
    if (depth > MAX_DEPTH) refuse(`they nest deeper than ${MAX_DEPTH} levels`);
    if (typeof v === 'function') refuse('a function is not query data');
    if (typeof v !== 'object' || v === null) return v;
    if (Array.isArray(v)) {
      const list: unknown[] = [];
      for (let i = 0; i < v.length; i++) {
        if (!Object.hasOwn(v, i)) refuse('an array has a hole or an accessor');
        const d = Object.getOwnPropertyDescriptor(v, i)!;
        if (!('value' in d)) refuse('an array has an accessor');
        list.push(copy(d.value, depth + 1));
      }
      return list;
    }
    if (!isObject(v)) {
      if (v instanceof Date || ArrayBuffer.isView(v) || isNull(v) || isDecimal(v)) return v;
      if (isFieldReference(v)) {
        references.push({ modelName: v.modelName, name: v.name });
        return v;
      }
      return refuse('an object of a class Prisma does not know is not query data');
    }
    const out = Object.create(null) as Obj;
    for (const key of Object.keys(v)) {
      if (key === '__proto__' || key === 'toJSON') refuse(`a ${key} key is not query data`);
      const d = Object.getOwnPropertyDescriptor(v, key)!;
      if (!('value' in d)) refuse(`${key} is an accessor, not a data property`);
      out[key] = copy(d.value, depth + 1);
    }
    return out;
  };
  return { args: copy(value, 0), references };
}
