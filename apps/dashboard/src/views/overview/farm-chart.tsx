import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** One line (or bars) of a chart: its label, colour and how it is drawn. */
export interface ChartSeries {
  label: string;
  colour: string;
  /** Fill below the line with the colour, faintly. */
  fill?: boolean;
  bars?: boolean;
  /** How a value reads in the legend: `4.2/s`. */
  unit?: string;
}

const HEIGHT = 170;
/** The steps between an axis's marks when it counts things: never half a task. */
const COUNT_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 1_000_000,
];

/**
 * A time series chart drawn by uPlot on a canvas: `data` is `[times in s, ...one array per
 * series]`. The chart is made once and given new data as it comes, so that a chart that updates
 * every few seconds costs a redraw, not a rebuild; it follows its container's width.
 */
export function FarmChart({
  title,
  series,
  data,
  name,
  counts = false,
}: {
  title: string;
  series: readonly ChartSeries[];
  data: uPlot.AlignedData;
  /** For tests and screenshots: `data-chart`. */
  name: string;
  /** The values are counts: the axis marks whole numbers only. */
  counts?: boolean;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const latest = useRef(data);
  latest.current = data;

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height: HEIGHT,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        {
          stroke: '#6b7686',
          grid: { stroke: '#eef1f5' },
          ticks: { stroke: '#e3e7ee' },
          // One line of labels, as fine as the range needs: uPlot's second line of dates would
          // overlap the first on a narrow chart.
          values: (u, ticks) => {
            const span = (u.scales.x?.max ?? 0) - (u.scales.x?.min ?? 0);
            return ticks.map((t) => formatClock(t * 1000, span));
          },
        },
        {
          stroke: '#6b7686',
          grid: { stroke: '#eef1f5' },
          ticks: { stroke: '#e3e7ee' },
          size: 44,
          values: (_u, ticks) => ticks.map(formatTick),
          ...(counts && { incrs: COUNT_STEPS }),
        },
      ],
      series: [
        {},
        ...series.map((s): uPlot.Series => ({
          label: s.label,
          stroke: s.colour,
          width: s.bars ? 0 : 1.5,
          points: { show: false },
          ...(s.fill && { fill: `${s.colour}22` }),
          ...(s.bars && {
            fill: `${s.colour}cc`,
            paths: uPlot.paths.bars?.({ size: [0.7, 24], align: 1 }),
          }),
          value: (_u, v) => (v === null ? '–' : `${formatValue(v)}${s.unit ?? ''}`),
        })),
      ],
    };
    const chart = new uPlot(options, latest.current, element);
    plot.current = chart;
    const resize = new ResizeObserver(() => {
      chart.setSize({ width: Math.max(200, element.clientWidth), height: HEIGHT });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = undefined;
    };
    // The series are fixed for a chart's life: a new set makes a new chart.
  }, [series, counts]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return (
    <figure className="farm-chart" data-chart={name} data-points={data[0].length}>
      <figcaption>{title}</figcaption>
      <div ref={box} className="farm-chart-plot" />
    </figure>
  );
}

function formatValue(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return v < 10 ? v.toFixed(2) : v.toFixed(1);
}

function formatTick(v: number): string {
  if (v >= 1_000_000) return `${+(v / 1_000_000).toFixed(1)}M`;
  if (v >= 10_000) return `${+(v / 1000).toFixed(0)}k`;
  if (v >= 1000) return `${+(v / 1000).toFixed(1)}k`;
  return formatValue(v);
}

/** A time on the axis: seconds over a few minutes, minutes over days, the date over a week. */
function formatClock(ms: number, spanS: number): string {
  const d = new Date(ms);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (spanS <= 900) return `${hm}:${pad(d.getSeconds())}`;
  if (spanS <= 2 * 86_400) return hm;
  return `${d.getMonth() + 1}/${d.getDate()} ${hm}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
