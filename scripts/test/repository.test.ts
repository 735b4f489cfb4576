/**
 * The repository stands alone: someone who clones it has every document the code and the
 * docs cite. No file points outside it, every cited `*.md` exists, and every
 * `docs/daraja.md §N` a comment cites is a section of that page.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f && /\.(ts|js|md|yml|yaml|json|sql|graphql|example|prisma)$|(^|\/)(Dockerfile|run)$/.test(f) && !/package-lock\.json$|artifacts\//.test(f) && existsSync(join(ROOT, f)));
const text = (f: string) => readFileSync(join(ROOT, f), 'utf8');

test('no file cites a path outside the repository', () => {
  expect(tracked.length).toBeGreaterThan(100);
  const outside = /\.\.\/shared|shared\/docs|\/work\/|\/tmp\/issue|knowledge docs?\b/;
  const offenders = tracked.filter((f) => f !== 'scripts/test/repository.test.ts' && outside.test(text(f)));
  expect(offenders).toEqual([]);
});

test('every *.md a file cites exists (relative to the repository or to the citing file)', () => {
  const missing: string[] = [];
  for (const f of tracked) {
    for (const m of text(f).matchAll(/(?<![\w/.-])([\w-]+\/)*[\w-]+\.md\b/g)) {
      const ref = m[0];
      if (!existsSync(join(ROOT, ref)) && !existsSync(join(ROOT, dirname(f), ref)) && !existsSync(join(ROOT, 'docs', ref))) missing.push(`${f}: ${ref}`);
    }
  }
  expect(missing).toEqual([]);
});

test('docs/daraja.md has every section the code cites, and Safaricom callback addresses', () => {
  const page = text('docs/daraja.md');
  const sections = new Set([...page.matchAll(/^## §(\d+)/gm)].map((m) => m[1]));
  const cited = tracked.flatMap((f) => [...text(f).matchAll(/docs\/daraja\.md\s*§(\d+)(?:-§(\d+))?((?:,\s*§\d+)*)/g)].flatMap((m) => [m[1], m[2], ...[...(m[3] ?? '').matchAll(/§(\d+)/g)].map((x) => x[1])].filter(Boolean).map((n) => `${f} §${n}`)));
  expect(cited.length).toBeGreaterThan(15);
  expect(cited.filter((c) => !sections.has(c.split('§')[1]!))).toEqual([]);
  expect(page).toMatch(/196\.201\.214\.200, 196\.201\.214\.206/);
});
