// A scenario as a picture: its blocks (by type), the edges between them labelled with the choice or
// rule that takes them, the start marked, and the validator's problems pinned on their blocks.
// Drawn as a Mermaid flowchart (GitHub renders it in a README or a pull request) or as one
// self-contained HTML page with an inline SVG (no script, no network). Pure: source and problems in,
// text out; the command reads the file and writes the result.
import { IMPLICIT_END, type Problem } from './compile.js';
import { cut } from './fold.js';

export interface GraphNode {
  id: string;
  /** The block type; `missing` for a target no block has, `end` for the implicit end. */
  type: string;
  /** The block's text (its message or question), if any. */
  text: string;
  /**
   * Where a webhook block posts conversation data (what its body names): the URL's host, or the
   * URL as written when it is none. On the node, so a reader of the picture sees the third party.
   */
  sendsTo?: string;
  start: boolean;
  problems: Problem[];
}

export interface GraphEdge {
  from: string;
  to: string;
  label: string;
}

export interface ScenarioGraph {
  name: string;
  start: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Problems not tied to one block. */
  problems: Problem[];
}

type Loose = Record<string, unknown>;
const asObject = (value: unknown): Loose => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Loose) : {});
const asArray = (value: unknown): Loose[] => (Array.isArray(value) ? value.map(asObject) : []);
const asText = (value: unknown): string => (typeof value === 'string' ? value : '');

/** How a node is named on the page: the end a message without `next` leads to is no block of the file. */
function shownId(id: string): string {
  return id === IMPLICIT_END ? '(no next: the end)' : id;
}

/** The graph of a scenario source (parsed JSON, valid or not: whatever can be read is drawn). */
export function scenarioGraph(source: unknown, problems: readonly Problem[]): ScenarioGraph {
  const scenario = asObject(source);
  const blocks = asObject(scenario.blocks);
  const start = asText(scenario.start);
  const nodes = new Map<string, GraphNode>();
  const edges: GraphEdge[] = [];
  for (const [id, raw] of Object.entries(blocks)) {
    const block = asObject(raw);
    const sendsTo = block.type === 'webhook' && asText(block.url) ? hostOf(asText(block.url)) : undefined;
    nodes.set(id, { id, type: asText(block.type) || 'unknown', text: asText(block.text) || asText(block.url), ...(sendsTo === undefined ? {} : { sendsTo }), start: id === start, problems: [] });
    for (const [to, label] of exits(block)) edges.push({ from: id, to, label });
  }
  // Targets no block answers to still get a node, so the arrow that names them has somewhere to go.
  for (const to of [start, ...edges.map((e) => e.to)]) {
    if (to && !nodes.has(to)) nodes.set(to, { id: to, type: to === IMPLICIT_END ? 'end' : 'missing', text: '', start: to === start, problems: [] });
  }
  const loose: Problem[] = [];
  // Longest id first: "a.b" owns "blocks.a.b.next", not "a".
  const ids = [...nodes.keys()].sort((a, b) => b.length - a.length);
  for (const problem of problems) {
    const owner = ids.find((id) => problem.path === `blocks.${id}` || problem.path.startsWith(`blocks.${id}.`) || problem.path.startsWith(`blocks.${id}[`));
    if (owner) nodes.get(owner)!.problems.push(problem);
    else loose.push(problem);
  }
  return { name: asText(scenario.name) || 'scenario', start, nodes: [...nodes.values()], edges, problems: loose };
}

/** The host a URL names (with its port), or the text itself when it is no URL (a file not yet valid). */
function hostOf(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

/** A block's outgoing edges: [target, label]. */
function exits(block: Loose): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const add = (to: unknown, label: string) => {
    if (typeof to === 'string' && to) out.push([to, label]);
  };
  switch (block.type) {
    case 'message':
      if (block.next === undefined) add(IMPLICIT_END, '');
      else add(block.next, '');
      break;
    case 'choice':
      for (const choice of asArray(block.choices)) add(choice.next, asText(choice.label) || asText(choice.value));
      add(block.fallback, 'any other answer');
      break;
    case 'ask':
      add(block.next, 'answer');
      break;
    case 'match':
      for (const rule of asArray(block.rules)) add(rule.next, ruleLabel(rule));
      add(block.otherwise, 'otherwise');
      break;
    case 'condition':
      add(block.then, 'then');
      add(block.else, 'else');
      break;
    case 'webhook':
      add(block.next, block.on_error === undefined ? '' : 'ok');
      add(block.on_error, 'error');
      break;
    case 'articles':
      add(block.next, 'articles found');
      add(block.none, 'none');
      break;
    default:
      add(block.next, '');
  }
  return out;
}

function ruleLabel(rule: Loose): string {
  const words = (value: unknown) => (Array.isArray(value) ? value.map(String).join(', ') : String(value));
  return rule.contains !== undefined ? `contains ${words(rule.contains)}` : rule.exact !== undefined ? `is ${words(rule.exact)}` : rule.regex !== undefined ? `matches /${String(rule.regex)}/` : 'rule';
}

/** A problem as a node shows it: its level's sign, then `text` (its message, as the format needs it). */
const flagged = (p: Problem, text: string) => `${p.level === 'error' ? '⛔' : '⚠'} ${text}`;

const clip = (text: string, max: number) => (text.length > max ? `${cut(text, max - 1)}…` : text);

// ---------------------------------------------------------------- Mermaid

const MERMAID_SHAPES: Record<string, [string, string]> = {
  message: ['[', ']'],
  choice: ['{{', '}}'],
  ask: ['[/', '/]'],
  match: ['{', '}'],
  condition: ['{', '}'],
  set: ['[[', ']]'],
  webhook: ['[(', ')]'],
  articles: ['[(', ')]'],
  handoff: ['([', '])'],
  end: ['((', '))'],
};

/** A Mermaid flowchart, top to bottom; nodes are named n0, n1… (block ids may hold characters Mermaid reserves). */
export function graphToMermaid(graph: ScenarioGraph): string {
  const key = new Map(graph.nodes.map((n, i) => [n.id, `n${i}`]));
  const quote = (text: string) => `"${text.replace(/"/g, '#quot;').replace(/\n/g, ' ')}"`;
  // Text of the file's own (an id, a URL, a problem quoting it) inside the label's HTML: as Mermaid entity codes, so it is read as text.
  const entities = (text: string) => text.replace(/#/g, '#35;').replace(/</g, '#lt;').replace(/>/g, '#gt;').replace(/&/g, '#amp;');
  const lines = [
    'flowchart TD',
    '  classDef error fill:#fde2e1,stroke:#c0362c,stroke-width:2px',
    '  classDef warning fill:#fff4d6,stroke:#c98a00,stroke-width:2px',
    `  start_(("start")) --> ${key.get(graph.start) ?? 'missing_start["no start block"]'}`,
  ];
  for (const node of graph.nodes) {
    const [open, close] = MERMAID_SHAPES[node.type] ?? ['[', ']'];
    const flags = node.problems.map((p) => flagged(p, entities(p.message)));
    const sendsTo = node.sendsTo === undefined ? [] : [`→ ${entities(clip(node.sendsTo, 48))}`];
    const label = [`<b>${entities(shownId(node.id))}</b>`, entities(node.type), ...sendsTo, ...flags].join('<br/>');
    lines.push(`  ${key.get(node.id)}${open}${quote(label)}${close}`);
  }
  // Problems no block owns (the file is no JSON, a field at the top): a node of their own, so the chart never hides them.
  if (graph.problems.length > 0) {
    const flags = graph.problems.map((p) => flagged(p, entities(`${p.path === '' ? '' : `${p.path}: `}${p.message}`)));
    lines.push(`  file_problems[${quote(['<b>the file</b>', ...flags].join('<br/>'))}]`);
    if (graph.problems.some((p) => p.level === 'error')) lines.push('  class file_problems error');
  }
  for (const edge of graph.edges) lines.push(`  ${key.get(edge.from)} -->${edge.label ? `|${quote(clip(edge.label, 48))}|` : ''} ${key.get(edge.to)}`);
  const classOf = (n: GraphNode) => (n.problems.some((p) => p.level === 'error') || n.type === 'missing' ? 'error' : n.problems.length ? 'warning' : undefined);
  for (const level of ['error', 'warning'] as const) {
    const members = graph.nodes.filter((n) => classOf(n) === level).map((n) => key.get(n.id));
    if (members.length) lines.push(`  class ${members.join(',')} ${level}`);
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------- HTML (inline SVG)

const NODE_W = 190;
const NODE_H = 58;
const GAP_X = 40;
const GAP_Y = 80;
const COLORS: Record<string, string> = {
  message: '#dbeafe',
  choice: '#ede9fe',
  ask: '#e0f2fe',
  match: '#fef3c7',
  condition: '#fef3c7',
  set: '#e5e7eb',
  webhook: '#fce7f3',
  articles: '#d1fae5',
  handoff: '#ffedd5',
  end: '#dcfce7',
  missing: '#fde2e1',
};

interface Placed extends GraphNode {
  x: number;
  y: number;
}

/** Layers by distance from the start (unreachable blocks in a last row), left to right in source order. */
function layout(graph: ScenarioGraph): { placed: Map<string, Placed>; width: number; height: number } {
  const layerOf = new Map<string, number>();
  const queue = graph.start && graph.nodes.some((n) => n.id === graph.start) ? [graph.start] : [];
  if (queue[0]) layerOf.set(queue[0], 0);
  while (queue.length) {
    const id = queue.shift()!;
    for (const edge of graph.edges) {
      if (edge.from !== id || layerOf.has(edge.to)) continue;
      layerOf.set(edge.to, layerOf.get(id)! + 1);
      queue.push(edge.to);
    }
  }
  const deepest = Math.max(-1, ...layerOf.values());
  const rows: GraphNode[][] = [];
  for (const node of graph.nodes) (rows[layerOf.get(node.id) ?? deepest + 1] ??= []).push(node);
  const widest = Math.max(1, ...rows.map((r) => r?.length ?? 0));
  const width = widest * (NODE_W + GAP_X) + GAP_X;
  const placed = new Map<string, Placed>();
  rows.forEach((row, layer) => {
    const offset = (width - row.length * (NODE_W + GAP_X) + GAP_X) / 2;
    row.forEach((node, i) => placed.set(node.id, { ...node, x: offset + i * (NODE_W + GAP_X), y: GAP_X + layer * (NODE_H + GAP_Y) }));
  });
  return { placed, width, height: GAP_X * 2 + rows.length * (NODE_H + GAP_Y) - GAP_Y };
}

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One self-contained page: the graph as inline SVG, then every block with its problems as text. */
export function graphToHtml(graph: ScenarioGraph): string {
  const { placed, width, height } = layout(graph);
  const svg: string[] = [];
  let right = width; // labels of loops stick out to the right
  // Edges between the same two blocks share one arrow, their labels joined (they would overlap).
  const arrows = new Map<string, GraphEdge>();
  for (const edge of graph.edges) {
    const key = `${edge.from}\u0000${edge.to}`;
    const seen = arrows.get(key);
    arrows.set(key, seen ? { ...seen, label: [seen.label, edge.label].filter(Boolean).join(' / ') } : edge);
  }
  for (const edge of arrows.values()) {
    const a = placed.get(edge.from)!;
    const b = placed.get(edge.to)!;
    const [x1, y1] = [a.x + NODE_W / 2, a.y + NODE_H];
    const [x2, y2] = [b.x + NODE_W / 2, b.y];
    // A forward edge bends down; an edge back up (a loop) swings out to the right of both blocks.
    const back = y2 <= a.y;
    const path = back
      ? `M${a.x + NODE_W},${a.y + NODE_H / 2} C${Math.max(a.x, b.x) + NODE_W + 60},${a.y + NODE_H / 2} ${Math.max(a.x, b.x) + NODE_W + 60},${b.y + NODE_H / 2} ${b.x + NODE_W},${b.y + NODE_H / 2}`
      : `M${x1},${y1} C${x1},${(y1 + y2) / 2} ${x2},${(y1 + y2) / 2} ${x2},${y2}`;
    svg.push(`<path class="edge" d="${path}" marker-end="url(#arrow)"/>`);
    if (edge.label) {
      // Three quarters along the curve: sibling edges have parted by then, so their labels do not overlap.
      const [lx, ly] = back ? [Math.max(a.x, b.x) + NODE_W + 50, (a.y + b.y + NODE_H) / 2] : [x1 + (x2 - x1) * 0.84, y1 + (y2 - y1) * 0.7];
      const label = clip(edge.label, 30);
      const w = label.length * 6.6 + 12;
      right = Math.max(right, lx + w / 2 + 10);
      svg.push(`<g class="label"><title>${escapeHtml(edge.label)}</title><rect x="${lx - w / 2}" y="${ly - 9}" width="${w}" height="18" rx="4"/><text x="${lx}" y="${ly + 4}">${escapeHtml(label)}</text></g>`);
    }
  }
  for (const node of placed.values()) {
    const level = node.problems.some((p) => p.level === 'error') || node.type === 'missing' ? 'error' : node.problems.length ? 'warning' : 'ok';
    const tip = [shownId(node.id), node.type, node.text, ...node.problems.map((p) => `${p.level}: ${p.message}`)].filter(Boolean).join('\n');
    // A webhook's host takes the text line (its URL is in the tooltip and the list below); its first problem goes under it.
    const flag = node.problems[0] && flagged(node.problems[0], node.problems[0].message);
    const line = node.sendsTo === undefined ? (flag ?? node.text) : `→ ${node.sendsTo}`;
    svg.push(
      `<g class="node ${level}" id="block-${escapeHtml(node.id)}"><title>${escapeHtml(tip)}</title>` +
        `<rect x="${node.x}" y="${node.y}" width="${NODE_W}" height="${NODE_H}" rx="8" fill="${COLORS[node.type] ?? '#f3f4f6'}"/>` +
        `<text class="id" x="${node.x + 10}" y="${node.y + 19}">${escapeHtml(clip(shownId(node.id), 24))}</text>` +
        `<text class="type" x="${node.x + NODE_W - 10}" y="${node.y + 19}" text-anchor="end">${escapeHtml(node.type)}</text>` +
        `<text class="text" x="${node.x + 10}" y="${node.y + 40}">${escapeHtml(clip(line, 28))}</text>` +
        (node.sendsTo !== undefined && flag ? `<text class="text" x="${node.x + 10}" y="${node.y + 53}">${escapeHtml(clip(flag, 28))}</text>` : '') +
        (node.start ? `<text class="start" x="${node.x}" y="${node.y - 6}">▶ start</text>` : '') +
        '</g>',
    );
  }
  const exitsOf = (id: string) => {
    const out = graph.edges.filter((e) => e.from === id).map((e) => `<a href="#block-${escapeHtml(e.to)}">${escapeHtml(shownId(e.to))}</a>${e.label ? ` (${escapeHtml(e.label)})` : ''}`);
    return out.length ? ` → ${out.join(', ')}` : '';
  };
  const rows = graph.nodes.map(
    (n) =>
      `<li class="${n.problems.length ? 'flagged' : ''}"><a href="#block-${escapeHtml(n.id)}"><code>${escapeHtml(shownId(n.id))}</code></a> <span class="type">${escapeHtml(n.type)}</span>${n.start ? ' <b>start</b>' : ''}` +
      `${n.text ? ` — ${escapeHtml(clip(n.text, 160))}` : ''}${exitsOf(n.id)}${n.problems.length ? `<ul>${n.problems.map((p) => `<li class="${p.level}">${p.level}: ${escapeHtml(p.message)} <code>${escapeHtml(p.path)}</code></li>`).join('')}</ul>` : ''}</li>`,
  );
  const fileProblems = graph.problems.map((p) => `<li class="${p.level}">${p.level}: ${escapeHtml(p.message)}${p.path ? ` <code>${escapeHtml(p.path)}</code>` : ''}</li>`);
  const legend = Object.entries(COLORS).map(([type, color]) => `<span><i style="background:${color}"></i>${type}</span>`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Scenario ${escapeHtml(graph.name)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1c2430; }
h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
.legend { display: flex; flex-wrap: wrap; gap: .4rem 1rem; font-size: .85rem; margin-bottom: 1rem; }
.legend i { display: inline-block; width: .9rem; height: .9rem; border: 1px solid #9ca3af; border-radius: 3px; margin-right: .3rem; vertical-align: -2px; }
.canvas { overflow: auto; border: 1px solid #e5e7eb; border-radius: 8px; }
svg { display: block; }
.edge { fill: none; stroke: #6b7280; stroke-width: 1.5; }
.label rect { fill: white; stroke: #d1d5db; }
.label text { font-size: 11px; text-anchor: middle; fill: #374151; }
.node rect { stroke: #9ca3af; stroke-width: 1; }
.node.warning rect { stroke: #c98a00; stroke-width: 2.5; }
.node.error rect { stroke: #c0362c; stroke-width: 2.5; }
.node .id { font-weight: 600; font-size: 13px; } .node .type { font-size: 11px; fill: #4b5563; }
.node .text { font-size: 11px; fill: #374151; } .node .start { font-size: 11px; font-weight: 600; fill: #1a7f37; }
.blocks { margin-top: 1.2rem; } .blocks .type { color: #4b5563; }
li.error { color: #b42318; } li.warning { color: #8a5a00; }
</style>
</head>
<body>
<h1>Scenario <code>${escapeHtml(graph.name)}</code></h1>
<div class="legend">${legend.join('')}</div>
${fileProblems.length ? `<ul class="problems">${fileProblems.join('')}</ul>` : ''}
<div class="canvas"><svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(right)}" height="${height}" viewBox="0 0 ${Math.ceil(right)} ${height}" role="img" aria-label="Graph of scenario ${escapeHtml(graph.name)}">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>
${svg.join('\n')}
</svg></div>
<section class="blocks"><h2>Blocks</h2><ul>${rows.join('\n')}</ul></section>
</body>
</html>
`;
}
