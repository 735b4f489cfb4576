// Entry point bundled by `subql build`: every handler named in project.ts.
export * from './mappings/orders';
export * from './mappings/contract';
