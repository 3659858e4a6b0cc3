import type { TaskRow } from './job-store.js';

const STEPS_S = [
  0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 86_400,
];
const BARS = 40;
const WIDTH = 400;
const HEIGHT = 72;

/**
 * Tasks finished per interval over the job's life, as bars (succeeded and failed stacked); the
 * interval is picked so the job's span fits about 40 bars.
 */
export function ThroughputChart({
  tasks,
  from,
  to,
}: {
  tasks: readonly (TaskRow | undefined)[];
  /** When the job started (ms since the epoch). */
  from: number;
  /** When it finished, or now. */
  to: number;
}) {
  const span = Math.max(1000, to - from);
  const step = (STEPS_S.find((s) => s * 1000 * BARS >= span) ?? STEPS_S.at(-1) ?? 1) * 1000;
  const bins = Math.max(1, Math.ceil(span / step));
  const ok = new Array<number>(bins).fill(0);
  const bad = new Array<number>(bins).fill(0);
  for (const task of tasks) {
    if (!task?.finishedAt || task.status === 'cancelled') continue;
    const bin = Math.min(
      bins - 1,
      Math.max(0, Math.floor((Date.parse(task.finishedAt) - from) / step)),
    );
    if (task.status === 'succeeded') ok[bin] = (ok[bin] ?? 0) + 1;
    else bad[bin] = (bad[bin] ?? 0) + 1;
  }
  let max = 1;
  for (let i = 0; i < bins; i++) max = Math.max(max, (ok[i] ?? 0) + (bad[i] ?? 0));
  const w = WIDTH / bins;
  const scale = (n: number) => (n / max) * (HEIGHT - 14);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label="tasks finished per interval">
        <line x1={0} y1={HEIGHT - 0.5} x2={WIDTH} y2={HEIGHT - 0.5} className="axis" />
        <text x={2} y={10} className="chart-label">
          {max}
        </text>
        {ok.map((n, i) => {
          const f = bad[i] ?? 0;
          const x = i * w + 0.5;
          const bw = Math.max(1, w - 1);
          return (
            <g key={i}>
              <title>{`${n} succeeded, ${f} failed`}</title>
              {n > 0 && (
                <rect className="bar-ok" x={x} width={bw} y={HEIGHT - scale(n)} height={scale(n)} />
              )}
              {f > 0 && (
                <rect
                  className="bar-bad"
                  x={x}
                  width={bw}
                  y={HEIGHT - scale(n) - scale(f)}
                  height={scale(f)}
                />
              )}
            </g>
          );
        })}
      </svg>
      <figcaption className="muted small">tasks finished per {formatStep(step)}</figcaption>
    </figure>
  );
}

function formatStep(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${s / 60} min`;
  return `${s / 3600} h`;
}
