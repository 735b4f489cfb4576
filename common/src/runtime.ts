/** Node.js lines that have reached end of life, with the date (nodejs.org/en/about/previous-releases). */
const END_OF_LIFE: Record<number, string> = { 16: '2023-09-11', 18: '2025-04-30', 19: '2023-06-01', 20: '2026-04-30', 21: '2024-06-01', 23: '2025-06-01' };

/**
 * One line on stderr when this Node.js is end of life (Descrow targets Node 24 LTS; the
 * image and CI run it). `npm start` and `npm test` call it; everything still runs.
 */
export function warnIfEndOfLife(version = process.versions.node, write: (line: string) => unknown = (line) => process.stderr.write(line)): boolean {
  const major = Number(version.split('.')[0]);
  const eol = END_OF_LIFE[major] ?? (major < 16 ? 'long ago' : undefined);
  if (!eol) return false;
  write(`warning: Node.js ${version} reached end of life (${eol}); Descrow targets Node 24 LTS (e.g. \`npm install node@24\` in a folder, then put its node_modules/.bin first on PATH, as .ci/run does)\n`);
  return true;
}
