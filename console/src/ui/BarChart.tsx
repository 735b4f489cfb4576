/**
 * Grouped bars in plain SVG (no chart library to ship): one group per day, one bar per
 * series. Values are scaled per chart; the table next to it carries the exact figures.
 */
export interface Series { name: string; className: string }

export function BarChart({ title, days, series, values, format }: {
  title: string;
  days: string[];
  series: Series[];
  values: (day: string, series: Series) => number;
  format: (v: number) => string;
}) {
  const width = Math.max(320, days.length * (series.length * 14 + 16) + 60);
  const height = 180;
  const top = 10;
  const bottom = 30;
  const left = 76;
  const max = Math.max(1, ...days.flatMap((d) => series.map((s) => values(d, s))));
  const plot = height - top - bottom;
  const group = (width - left - 10) / Math.max(1, days.length);
  const bar = Math.min(14, (group - 8) / series.length);
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label={`${title}: ${days.length} days, highest ${format(max)}`}>
        <line x1={left} x2={width - 10} y1={top + plot} y2={top + plot} className="axis" />
        <text x={left - 4} y={top + 8} className="tick" textAnchor="end">{format(max)}</text>
        <text x={left - 4} y={top + plot} className="tick" textAnchor="end">0</text>
        {days.map((d, i) => (
          <g key={d} transform={`translate(${left + i * group + 4},0)`}>
            {series.map((s, j) => {
              const v = values(d, s);
              const h = (v / max) * plot;
              return (
                <rect key={s.name} x={j * bar} y={top + plot - h} width={bar - 2} height={Math.max(h, v > 0 ? 1 : 0)} className={s.className}>
                  <title>{`${d} ${s.name}: ${format(v)}`}</title>
                </rect>
              );
            })}
            <text x={(series.length * bar) / 2} y={height - 12} className="tick" textAnchor="middle">{d.slice(5)}</text>
          </g>
        ))}
      </svg>
      <ul className="legend">
        {series.map((s) => (
          <li key={s.name}><span className={`swatch ${s.className}`} aria-hidden="true" /> {s.name}</li>
        ))}
      </ul>
    </figure>
  );
}
