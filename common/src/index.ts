export * from './config';
export * from './logger';
export * from './db';
export * from './migrate';
export * from './embeddedPostgres';
export * from './anvil';
export * from './safety';
export * from './runtime';
