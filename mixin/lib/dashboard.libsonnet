// A small dashboard builder: only what the bosaimail dashboards use, with
// every panel's options complete so the JSON decodes strictly into the
// Grafana schema (checked by dashboards/dashboards_test.go).
local ds = { type: 'prometheus', uid: '${datasource}' };

local legend = { displayMode: 'list', placement: 'bottom', showLegend: true, calcs: [] };
local tooltip = { mode: 'multi', sort: 'none' };

local thresholds(steps) = {
  mode: 'absolute',
  steps: [{ color: steps[0][1], value: null }] + [{ color: s[1], value: s[0] } for s in steps[1:]],
};

local base(type, title, description, targets, w, h, unit, steps, mappings) = {
  type: type,
  title: title,
  description: description,
  datasource: ds,
  gridPos: { w: w, h: h, x: 0, y: 0 },
  targets: [
    {
      datasource: ds,
      expr: t.expr,
      legendFormat: std.get(t, 'legend', ''),
      refId: std.char(65 + i),
    } + (if std.get(t, 'instant', false) then { instant: true, range: false, format: std.get(t, 'format', 'time_series') } else {})
    for i in std.range(0, std.length(targets) - 1)
    for t in [targets[i]]
  ],
  fieldConfig: {
    defaults: {
      unit: unit,
      thresholds: thresholds(steps),
      mappings: mappings,
    },
    overrides: [],
  },
};

{
  datasource: ds,

  // target(expr, legend) for a range query; instant(expr, legend) for tables and stats.
  target(expr, legend=''):: { expr: expr, legend: legend },
  instant(expr, legend='', format='time_series'):: { expr: expr, legend: legend, instant: true, format: format },

  // A value mapping: value -> text, colour.
  valueMap(m):: [{
    type: 'value',
    options: { [k]: { text: m[k][0], color: m[k][1], index: 0 } for k in std.objectFields(m) },
  }],

  // steps: [[null, 'green'], [80, 'red']] (first value ignored).
  stat(title, description, targets, w=6, h=4, unit='none', steps=[[null, 'green']], mappings=[], colorMode='background', graph=false)::
    base('stat', title, description, targets, w, h, unit, steps, mappings) {
      options: {
        graphMode: if graph then 'area' else 'none',
        colorMode: colorMode,
        justifyMode: 'auto',
        textMode: 'auto',
        wideLayout: true,
        showPercentChange: false,
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        percentChangeColorMode: 'standard',
        orientation: 'auto',
      },
    },

  timeseries(title, description, targets, w=12, h=8, unit='none', steps=[[null, 'green']], stack=false)::
    base('timeseries', title, description, targets, w, h, unit, steps, []) {
      fieldConfig+: { defaults+: { custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: if stack then 30 else 10, showPoints: 'never', spanNulls: false, stacking: { mode: if stack then 'normal' else 'none', group: 'A' } } } },
      options: { legend: legend, tooltip: tooltip },
    },

  bargauge(title, description, targets, w=12, h=8, unit='none', steps=[[null, 'green']], min=null, max=null)::
    base('bargauge', title, description, targets, w, h, unit, steps, []) {
      fieldConfig+: { defaults+: (if min != null then { min: min } else {}) + (if max != null then { max: max } else {}) },
      options: {
        displayMode: 'basic',
        valueMode: 'color',
        namePlacement: 'auto',
        showUnfilled: true,
        sizing: 'auto',
        minVizWidth: 8,
        minVizHeight: 16,
        maxVizHeight: 300,
        legend: legend { showLegend: false },
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        orientation: 'horizontal',
      },
    },

  // A table of instant-query results; columns renames labels (header text).
  table(title, description, targets, w=24, h=8, unit='none', steps=[[null, 'green']], mappings=[], columns={}, hide=['Time'])::
    base('table', title, description, targets, w, h, unit, steps, mappings) {
      fieldConfig+: { defaults+: { custom: { align: 'auto', inspect: false, cellOptions: { type: 'color-background', mode: 'basic' } } } },
      options: {
        frameIndex: 0,
        showHeader: true,
        showTypeIcons: false,
        footer: { show: false, reducer: ['sum'], countRows: false },
        cellHeight: 'sm',
      },
      transformations: [
        { id: 'merge', options: {} },
        { id: 'organize', options: { excludeByName: { [c]: true for c in hide }, renameByName: columns } },
      ],
    },

  stateTimeline(title, description, targets, w=24, h=8, mappings=[], steps=[[null, 'green']])::
    base('state-timeline', title, description, targets, w, h, 'none', steps, mappings) {
      fieldConfig+: { defaults+: { custom: { lineWidth: 0, fillOpacity: 80 } } },
      options: {
        showValue: 'never',
        rowHeight: 0.9,
        mergeValues: true,
        alignValue: 'left',
        legend: legend,
        tooltip: tooltip,
        perPage: 20,
      },
    },

  heatmap(title, description, targets, w=24, h=8, unit='s')::
    base('heatmap', title, description, targets, w, h, unit, [[null, 'green']], []) {
      targets: [t { format: 'heatmap' } for t in super.targets],
      options: {
        calculate: false,
        color: { mode: 'scheme', scheme: 'Oranges', fill: 'dark-orange', exponent: 0.5, steps: 64, reverse: false },
        filterValues: { le: 1e-9 },
        showValue: 'auto',
        cellGap: 1,
        yAxis: { unit: unit, axisPlacement: 'left' },
        legend: { show: true },
        tooltip: { mode: 'single', yHistogram: true },
        exemplars: { color: 'rgba(255,0,255,0.7)' },
        selectionMode: 'x',
        rowsFrame: { layout: 'auto' },
      },
    },

  row(title):: { type: 'row', title: title, collapsed: false, panels: [], gridPos: { w: 24, h: 1, x: 0, y: 0 } },

  // layout places panels left to right, wrapping at width 24, and gives
  // each a stable id.
  layout(panels)::
    local step(acc, p) =
      local w = p.gridPos.w;
      local h = p.gridPos.h;
      local wrap = acc.x + w > 24 || p.type == 'row';
      local x = if wrap then 0 else acc.x;
      local y = if wrap then acc.y + acc.rowH else acc.y;
      {
        x: if p.type == 'row' then 24 else x + w,
        y: y,
        rowH: if wrap then h else std.max(acc.rowH, h),
        out: acc.out + [p { id: std.length(acc.out) + 1, gridPos: { w: w, h: h, x: x, y: y } }],
      };
    std.foldl(step, panels, { x: 0, y: 0, rowH: 0, out: [] }).out,

  // A query variable over label values of a metric.
  labelVar(name, label, metric, labelName, multi=true):: {
    name: name,
    label: label,
    type: 'query',
    datasource: ds,
    query: { query: 'label_values(%s, %s)' % [metric, labelName], refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    definition: 'label_values(%s, %s)' % [metric, labelName],
    refresh: 2,
    includeAll: multi,
    multi: multi,
    allValue: '.*',
    current: { text: 'All', value: '$__all' },
    sort: 1,
    hide: 0,
  },

  datasourceVar(label):: {
    name: 'datasource',
    label: label,
    type: 'datasource',
    query: 'prometheus',
    current: { text: 'default', value: 'default' },
    hide: 0,
    refresh: 1,
  },

  dashboard(uid, title, description, tags, variables, panels, links=[], from='now-24h', refresh='1m'):: {
    uid: uid,
    title: title,
    description: description,
    tags: tags,
    timezone: 'Asia/Tokyo',
    editable: false,
    graphTooltip: 1,
    fiscalYearStartMonth: 3,  // April: the contract year
    schemaVersion: 42,
    time: { from: from, to: 'now' },
    refresh: refresh,
    templating: { list: variables },
    annotations: { list: [] },
    links: links,
    panels: $.layout(panels),
  },
}
