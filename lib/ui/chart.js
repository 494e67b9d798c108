// The activity chart: deliveries per minute by verdict over the last hour, stacked, and below
// them how far each minute's Timestamps were from the receiver's clock. Drawn as SVG elements.

import {el, fill, skew_text, svg} from './dom.js';
import {verdicts} from './vocabulary.js';

const height = {bars: 78, gap: 16, skew: 40, axis: 14};
const margin = {left: 54, right: 8, top: 6};

export class ActivityChart {
  // `root` gets the chart; `legend` the totals per verdict.
  constructor(root, legend) {
    this.root = root;
    this.legend = legend;
    this.activity = null;
    new ResizeObserver(() => this.draw()).observe(root);
  }

  show(activity) {
    this.activity = activity;
    this.draw();
  }

  draw() {
    if (!this.activity) return;
    const minutes = this.activity.minutes || [];
    const width = Math.max(400, this.root.clientWidth || 1000);
    const inner = width - margin.left - margin.right;
    const step = inner / Math.max(1, minutes.length);
    const total_height = margin.top + height.bars + height.gap + height.skew + height.axis;
    const chart = svg('svg', {
      class: 'chart',
      width,
      height: total_height,
      viewBox: `0 0 ${width} ${total_height}`,
      role: 'img',
      'aria-label': 'deliveries per minute by verdict, and clock skew, over the last hour',
    });

    const totals = new Map();
    let most = 0;
    let widest_skew = 0;
    for (const minute of minutes) {
      let count = 0;
      for (const [verdict, n] of Object.entries(minute.verdicts || {})) {
        totals.set(verdict, (totals.get(verdict) || 0) + n);
        count += n;
      }
      most = Math.max(most, count);
      if (minute.skew_seconds) {
        widest_skew = Math.max(widest_skew, Math.abs(minute.skew_seconds.min),
            Math.abs(minute.skew_seconds.max));
      }
    }
    const scale = nice_ceiling(Math.max(1, most));
    const skew_scale = nice_ceiling(Math.max(1, widest_skew));
    const bars_top = margin.top;
    const bars_bottom = bars_top + height.bars;
    const skew_top = bars_bottom + height.gap;
    const skew_middle = skew_top + height.skew / 2;

    // Axes and their labels.
    chart.append(
        svg('line', {class: 'axis', x1: margin.left, x2: width - margin.right, y1: bars_bottom,
          y2: bars_bottom}),
        svg('line', {class: 'axis zero', x1: margin.left, x2: width - margin.right,
          y1: skew_middle, y2: skew_middle}),
        label(margin.left - 6, bars_top + 8, `${scale}/min`, 'end'),
        label(margin.left - 6, bars_bottom, '0', 'end'),
        label(margin.left - 6, skew_top + 8, `+${skew_scale} s`, 'end'),
        label(margin.left - 6, skew_middle + 4, 'skew', 'end'),
        label(margin.left - 6, skew_top + height.skew, `−${skew_scale} s`, 'end'));

    minutes.forEach((minute, i) => {
      const x = margin.left + i * step;
      const bar_width = Math.max(1, step - 2);
      const verdicts = Object.entries(minute.verdicts || {}).sort(
          (a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]));
      let y = bars_bottom;
      for (const [verdict, n] of verdicts) {
        const h = (n / scale) * height.bars;
        y -= h;
        chart.append(svg('rect', {class: `bar c-${safe(verdict)}`, x: x + 1, y, width: bar_width,
          height: Math.max(h, 0.5)}));
      }
      if (minute.skew_seconds) {
        const to_y = (s) => skew_middle - (s / skew_scale) * (height.skew / 2);
        const top = to_y(minute.skew_seconds.max);
        const bottom = to_y(minute.skew_seconds.min);
        chart.append(svg('rect', {class: 'skew', x: x + step / 2 - 2, y: top, width: 4,
          height: Math.max(2, bottom - top), rx: 1.5}));
      }
      if (i % 10 === 0 || i === minutes.length - 1) {
        const last = i === minutes.length - 1;
        chart.append(label(x + (last ? step : 0), total_height - 2,
            last ? 'now' : hour_minute(minute.start), last ? 'end' : 'start'));
      }
      // A column as wide as the minute, for the hover text.
      chart.append(svg('rect', {class: 'hover', x, y: bars_top, width: step,
        height: skew_top + height.skew - bars_top}, [svg('title', {text: describe(minute)})]));
    });
    fill(this.root, chart);
    this.show_legend(totals, widest_skew, minutes);
  }

  show_legend(totals, widest_skew, minutes) {
    const entries = [...totals.entries()].sort((a, b) => rank(a[0]) - rank(b[0]));
    const items = entries.map(([verdict, n]) => el('span', {class: 'legend-item'}, [
      el('span', {class: `swatch c-${safe(verdict)}`}), `${verdict} ${n}`,
    ]));
    if (entries.length === 0) items.push(el('span', {class: 'muted', text: 'no deliveries'}));
    let low = null;
    let high = null;
    for (const minute of minutes) {
      if (!minute.skew_seconds) continue;
      low = low === null ? minute.skew_seconds.min : Math.min(low, minute.skew_seconds.min);
      high = high === null ? minute.skew_seconds.max : Math.max(high, minute.skew_seconds.max);
    }
    if (low !== null) {
      items.push(el('span', {class: 'legend-item'}, [
        el('span', {class: 'swatch skew'}), `skew ${skew_text(low)} … ${skew_text(high)}`,
      ]));
    }
    fill(this.legend, items);
  }
}

function label(x, y, text, anchor) {
  return svg('text', {class: 'label', x, y, 'text-anchor': anchor, text});
}

// Bars stack in the order of the verdicts' table, ok at the bottom; unknown ones on top.
function rank(verdict) {
  const at = verdicts.indexOf(verdict);
  return at < 0 ? verdicts.length : at;
}

function safe(verdict) {
  return String(verdict).replace(/[^a-z_]/g, '');
}

// The smallest of 1, 2, 5, 10, 20, 50, ... that is at least `n`.
function nice_ceiling(n) {
  for (let power = 1; ; power *= 10) {
    for (const step of [1, 2, 5]) {
      if (step * power >= n) return step * power;
    }
  }
}

function hour_minute(rfc3339) {
  const when = new Date(rfc3339);
  const two = (n) => String(n).padStart(2, '0');
  return `${two(when.getHours())}:${two(when.getMinutes())}`;
}

function describe(minute) {
  const counts = Object.entries(minute.verdicts || {}).map(([v, n]) => `${v} ${n}`);
  let text = `${hour_minute(minute.start)}: ${counts.length ? counts.join(', ') : 'none'}`;
  if (minute.skew_seconds) {
    const {min, max} = minute.skew_seconds;
    text += `; skew ${skew_text(min)} … ${skew_text(max)}`;
  }
  return text;
}
