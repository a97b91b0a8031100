// An echarts chart, with only the chart types and components the console uses imported (the
// rest of echarts stays out of the bundle).
import { BarChart, FunnelChart, LineChart, PieChart } from 'echarts/charts';
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  TitleComponent,
  TooltipComponent,
} from 'echarts/components';
import { init, use, type ComposeOption, type EChartsType } from 'echarts/core';
import type { BarSeriesOption, FunnelSeriesOption, LineSeriesOption, PieSeriesOption } from 'echarts/charts';
import type {
  DataZoomComponentOption,
  GridComponentOption,
  LegendComponentOption,
  TitleComponentOption,
  TooltipComponentOption,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';

use([
  LineChart,
  BarChart,
  PieChart,
  FunnelChart,
  GridComponent,
  TooltipComponent,
  LegendComponent,
  TitleComponent,
  DataZoomComponent,
  CanvasRenderer,
]);

export type ChartOption = ComposeOption<
  | LineSeriesOption
  | BarSeriesOption
  | PieSeriesOption
  | FunnelSeriesOption
  | GridComponentOption
  | TooltipComponentOption
  | LegendComponentOption
  | TitleComponentOption
  | DataZoomComponentOption
>;

interface ChartProps {
  option: ChartOption;
  height?: number;
  /** Names the chart for assistive technology and tests. */
  label: string;
}

export function Chart({ option, height = 300, label }: ChartProps) {
  const ref = useRef<HTMLDivElement>(null);
  const chart = useRef<EChartsType | null>(null);

  useEffect(() => {
    const el = ref.current;
    if (!el) {
      return undefined;
    }
    const c = init(el, undefined, { renderer: 'canvas' });
    chart.current = c;
    const resize = new ResizeObserver(() => c.resize());
    resize.observe(el);
    return () => {
      resize.disconnect();
      c.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption(option, { notMerge: true });
  }, [option]);

  return <div ref={ref} role="img" aria-label={label} className="chart" style={{ height }} />;
}

/** Colours per channel, so a channel looks the same on every chart. */
export const CHANNEL_COLORS: Record<string, string> = {
  APP_PUSH: '#1f6feb',
  SMS: '#2da44e',
  WECHAT: '#07c160',
  DINGTALK: '#3296fa',
  VOICE: '#bf8700',
  RCS: '#8250df',
  EMAIL: '#cf222e',
  WEBHOOK: '#57606a',
};

/** Colours per delivery metric. */
export const METRIC_COLORS: Record<string, string> = {
  sent: '#1f6feb',
  delivered: '#2da44e',
  displayed: '#8250df',
  clicked: '#bf8700',
  failed: '#cf222e',
};
