/**
 * The console's typed GraphQL client, generated from the API's own schema file: every
 * operation in src/ is checked against it and gets result and variable types
 * (`npm run codegen -w console`; `npm run typecheck` runs it, so a schema change that
 * breaks the console fails the type check).
 */
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../api/src/schema/schema.graphql',
  documents: ['src/**/*.tsx', 'src/**/*.ts', '!src/gql/**/*'],
  ignoreNoDocuments: false,
  silent: true,
  generates: {
    'src/gql/': {
      preset: 'client',
      // Documents as plain strings: no GraphQL parser in the browser bundle.
      config: {
        documentMode: 'string',
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: { BigInt: 'string', DateTime: 'string', JSON: 'unknown' },
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};
export default config;
