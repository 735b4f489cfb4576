/**
 * The alert rules are valid Prometheus rules and each one fires on the series that should
 * trip it (promtool's unit tests, observability/alerts.test.yml); Prometheus' own config
 * loads them; the Grafana dashboard is provisioned from JSON in the repository. That every
 * metric these name is one the services really export is checked against live scrapes in
 * api/test/metrics.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

const ROOT = resolve(__dirname, '../..');
const DIR = join(ROOT, 'observability');
const promtool = spawnSync('promtool', ['--version']).status === 0;
// CI installs Debian's prometheus package (.ci/run); a machine without it skips and says so.
const withPromtool = promtool || process.env.CI ? test : test.skip;
if (!promtool && !process.env.CI) process.stderr.write('observability.test: promtool not installed; `apt-get install prometheus` to check the alert rules\n');
const run = (args: string[], cwd = DIR) => spawnSync('promtool', args, { cwd, encoding: 'utf8' });

withPromtool('promtool check rules: the alert rules are valid', () => {
  const r = run(['check', 'rules', 'alerts.yml']);
  expect([r.status, r.stderr]).toEqual([0, '']);
  expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
});

withPromtool('promtool test rules: every alert fires on its unit-test series (and not on healthy ones)', () => {
  const r = run(['test', 'rules', 'alerts.test.yml']);
  expect([r.status, r.stdout + r.stderr]).toEqual([0, expect.stringContaining('SUCCESS')]);
  // Every rule has at least one test that expects it to fire.
  const rules = (parse(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((x) => x.alert));
  const tests = parse(readFileSync(join(DIR, 'alerts.test.yml'), 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
  const fired = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length).map((a) => a.alertname)));
  expect(rules.filter((a) => !fired.has(a))).toEqual([]);
});

withPromtool("promtool check config: compose's Prometheus config loads the rules", () => {
  const dir = mkdtempSync(join(tmpdir(), 'prom-'));
  copyFileSync(join(DIR, 'alerts.yml'), join(dir, 'alerts.yml'));
  writeFileSync(join(dir, 'prometheus.yml'), readFileSync(join(DIR, 'prometheus.yml'), 'utf8').replace('/etc/prometheus/alerts.yml', 'alerts.yml'));
  const r = run(['check', 'config', 'prometheus.yml'], dir);
  expect([r.status, r.stdout + r.stderr]).toEqual([0, expect.stringContaining('SUCCESS')]);
});

test('the Grafana dashboard is provisioned from the repository, against the provisioned Prometheus', () => {
  const dashboard = JSON.parse(readFileSync(join(DIR, 'grafana/dashboards/descrow.json'), 'utf8')) as { uid: string; panels: { targets: { expr: string; datasource: { uid: string } }[] }[] };
  const ds = parse(readFileSync(join(DIR, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: { uid: string; url: string }[] };
  expect(dashboard.uid).toBe('descrow');
  expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
  for (const p of dashboard.panels) for (const t of p.targets) expect(t.datasource.uid).toBe(ds.datasources[0]!.uid);
  const provider = parse(readFileSync(join(DIR, 'grafana/provisioning/dashboards/descrow.yml'), 'utf8')) as { providers: { options: { path: string } }[] };
  const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  expect(compose).toContain(`./observability/grafana/dashboards:${provider.providers[0]!.options.path}:ro`);
});
