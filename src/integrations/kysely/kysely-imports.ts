/*
 * Kysely's node classes and types used by the plugin, from one place (all internal).
 */
export {
  AliasNode,
  AndNode,
  BinaryOperationNode,
  ColumnNode,
  ColumnUpdateNode,
  IdentifierNode,
  OperatorNode,
  PrimitiveValueListNode,
  ReferenceNode,
  ReturningNode,
  SelectionNode,
  ValueListNode,
  ValueNode,
  WhereNode,
} from 'kysely';
export type {
  DeleteQueryNode,
  InsertQueryNode,
  OnConflictNode,
  OperationNode,
  RootOperationNode,
  SelectQueryNode,
  UpdateQueryNode,
} from 'kysely';
export { TableNode } from 'kysely';
