// What each panel of a dashboard shows, computed by Grafana's own display code (@grafana/data):
// reads {timeZone, panels: [{key, panel, frames}]} (frames as DataFrameJSON, shaped as the
// datasource returns them) on stdin, writes {key: display} as JSON on stdout.
//
// Per panel, the steps Grafana's PanelQueryRunner and the panel take (Grafana 12):
//  1. the panel's transformations, by @grafana/data's transformDataFrame and its standard
//     transformers (Grafana registers them in standardTransformersRegistry at start-up);
//  2. applyFieldOverrides with the panel's fieldConfig, over the standard field options Grafana
//     registers for every panel (public/app/core/components/OptionsUI/registry.tsx,
//     getAllStandardFieldConfigs: unit, min, max, decimals, displayName, noValue, color,
//     thresholds, mappings, links, filterable), each with @grafana/data's own override processor;
//  3. stat, bar gauge and pie chart: getFieldDisplayValues with the panel's reduceOptions (what
//     StatPanel, BarGaugePanel and PieChartPanel call); its one value named "No data"
//     (createNoValuesFieldDisplay) is the panel's "No data";
//  4. table: the first frame's fields (TablePanel shows data.series[0] unless the user picks
//     another), each column's type and every cell's text through the field's display processor;
//  5. time series: the frames with a time field and a number field (the rule of
//     public/app/plugins/panel/timeseries/utils.ts prepareGraphableFields, which is not in
//     @grafana/data: without such a frame the panel says "No data"), each number field a series
//     named by getFieldDisplayName, with the legend's calcs by reduceField.
require('./shim.cjs');
const d = require('@grafana/data');

const theme = d.createTheme();

// standardTransformers lists some under two names (seriesToColumns is joinByField): once per id.
d.standardTransformersRegistry.setInit(() =>
  [...new Map(Object.values(d.standardTransformers).map((t) => [t.id, t])).values()]
    .map((t) => ({ id: t.id, name: t.name, transformation: t, editor: null })));

const any = () => true;
const numeric = (field) => field.type === d.FieldType.number;
const standardOptions = [
  { id: 'unit', path: 'unit', process: d.unitOverrideProcessor, shouldApply: any },
  { id: 'min', path: 'min', process: d.numberOverrideProcessor, shouldApply: numeric },
  { id: 'max', path: 'max', process: d.numberOverrideProcessor, shouldApply: numeric },
  { id: 'fieldMinMax', path: 'fieldMinMax', process: d.booleanOverrideProcessor, shouldApply: numeric },
  { id: 'decimals', path: 'decimals', process: d.numberOverrideProcessor, shouldApply: any },
  { id: 'displayName', path: 'displayName', process: d.displayNameOverrideProcessor, shouldApply: any },
  { id: 'noValue', path: 'noValue', process: d.stringOverrideProcessor, shouldApply: any },
  { id: 'color', path: 'color', process: d.identityOverrideProcessor, shouldApply: any,
    defaultValue: { mode: d.FieldColorModeId.Thresholds } },
  { id: 'thresholds', path: 'thresholds', process: d.thresholdsOverrideProcessor, shouldApply: any,
    defaultValue: { mode: d.ThresholdsMode.Absolute, steps: [{ value: -Infinity, color: 'green' }, { value: 80, color: 'red' }] } },
  { id: 'mappings', path: 'mappings', process: d.valueMappingsOverrideProcessor, shouldApply: any, defaultValue: [] },
  { id: 'links', path: 'links', process: d.dataLinksOverrideProcessor, shouldApply: any, defaultValue: [] },
  { id: 'filterable', path: 'filterable', process: d.booleanOverrideProcessor, shouldApply: any },
];
const fieldConfigRegistry = new d.FieldConfigOptionsRegistry(() =>
  standardOptions.map((o) => ({ name: o.id, override: null, editor: null, ...o })));

async function transform(panel, frames) {
  if (!panel.transformations || panel.transformations.length === 0) return frames;
  const { firstValueFrom } = require('rxjs');
  return firstValueFrom(d.transformDataFrame(panel.transformations, frames));
}

const text = (field, value) => d.formattedValueToString(field.display(value));
const plain = (value) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value);

function reduced(panel, frames, timeZone) {
  const values = d.getFieldDisplayValues({
    data: frames, reduceOptions: panel.options.reduceOptions, fieldConfig: panel.fieldConfig,
    replaceVariables: (s) => s, theme, timeZone,
  });
  // getFieldDisplayValues' createNoValuesFieldDisplay: one value named "No data" (text: noValue or "No data")
  const noData = values.length === 1 && values[0].name === 'No data' && !values[0].view;
  return {
    noData,
    values: noData ? [] : values.map((v) => ({
      title: v.display.title, numeric: plain(v.display.numeric), text: d.formattedValueToString(v.display),
      color: v.display.color,
    })),
  };
}

function table(frames) {
  if (frames.length === 0 || frames[0].length === 0) return { noData: true, columns: [], rows: [], frames: frames.length };
  const frame = frames[0];
  return {
    noData: false,
    frames: frames.length,
    columns: frame.fields.map((f) => ({ name: d.getFieldDisplayName(f, frame, frames), type: f.type })),
    // "other" fields (the plugin's raw JSON) show as JSON, as the table's JSON cell shows them
    rows: Array.from({ length: frame.length }, (_, i) => frame.fields.map((f) =>
      (f.type === d.FieldType.other ? JSON.stringify(f.values[i]) : text(f, f.values[i])))),
    raw: Array.from({ length: frame.length }, (_, i) => frame.fields.map((f) => plain(f.values[i]))),
  };
}

function timeSeries(panel, frames) {
  const calcs = (panel.options.legend && panel.options.legend.calcs) || [];
  const series = [];
  for (const frame of frames) {
    const time = frame.fields.find((f) => f.type === d.FieldType.time);
    if (!time) continue;
    for (const field of frame.fields) {
      if (field.type !== d.FieldType.number) continue;
      const legend = d.reduceField({ field, reducers: calcs });
      series.push({
        name: d.getFieldDisplayName(field, frame, frames), unit: field.config.unit || null,
        points: time.values.map((t, i) => [t, plain(field.values[i])]),
        legend: Object.fromEntries(calcs.map((c) => [c, plain(legend[c])])),
        color: field.display ? field.display(field.values[field.values.length - 1]).color : null,
      });
    }
  }
  return { noData: series.length === 0, series };
}

async function display(panel, frameJSON, timeZone) {
  const frames = await transform(panel, frameJSON.map((f) => d.dataFrameFromJSON(f)));
  const withConfig = d.applyFieldOverrides({
    data: frames, fieldConfig: panel.fieldConfig || { defaults: {}, overrides: [] }, fieldConfigRegistry,
    replaceVariables: (s) => s, theme, timeZone,
  });
  switch (panel.type) {
    case 'stat':
    case 'bargauge':
    case 'gauge':
    case 'piechart':
      return reduced(panel, withConfig, timeZone);
    case 'table':
      return table(withConfig);
    case 'timeseries':
      return timeSeries(panel, withConfig);
    default:
      throw new Error(`panel type ${panel.type} is not displayed by this script`);
  }
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const out = {};
  for (const { key, panel, frames } of input.panels) {
    out[key] = { type: panel.type, title: panel.title, ...(await display(panel, frames, input.timeZone || 'utc')) };
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
