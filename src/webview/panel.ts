/**
 * Browser code of the Engines panel. Builds the table with DOM calls (no innerHTML of engine data) and
 * posts typed messages back to the extension host.
 */
import type { EngineState } from '../shared/engineState';
import { formatDuration, formatGiB } from '../shared/format';
import { isHostMessage, type EngineAction, type HostMessage, type PanelEngine, type WebviewMessage } from '../shared/protocol';
import { httpUrl } from '../shared/url';
import { healthySummary, reasonText } from '../shared/viewModel';

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const tbody = document.querySelector('#engines tbody') as HTMLTableSectionElement;
const table = document.getElementById('engines') as HTMLTableElement;
const lockEl = document.getElementById('lock') as HTMLDivElement;
const emptyEl = document.getElementById('empty') as HTMLParagraphElement;

const SVG = 'http://www.w3.org/2000/svg';

/** States whose reason is worth a tooltip on the badge. */
const EXPLAINED: ReadonlySet<EngineState> = new Set(['failed', 'waiting', 'unhealthy']);

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A small line of the recent probe latencies; failed probes are red ticks. */
function sparkline(history: readonly (number | null)[]): SVGSVGElement {
  const w = 80;
  const h = 18;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('width', String(w));
  svg.setAttribute('height', String(h));
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  const ok = history.filter((v): v is number => v !== null);
  const max = Math.max(1, ...ok);
  const step = history.length > 1 ? w / (history.length - 1) : w;
  const points: string[] = [];
  history.forEach((v, i) => {
    const x = Math.round(i * step * 10) / 10;
    if (v === null) {
      const tick = document.createElementNS(SVG, 'line');
      tick.setAttribute('x1', String(x));
      tick.setAttribute('x2', String(x));
      tick.setAttribute('y1', '0');
      tick.setAttribute('y2', String(h));
      tick.setAttribute('class', 'spark-fail');
      svg.appendChild(tick);
    } else {
      points.push(`${x},${Math.round((h - 2 - (v / max) * (h - 4)) * 10) / 10}`);
    }
  });
  if (points.length === 1) {
    const [x, y] = points[0]!.split(',');
    const dot = document.createElementNS(SVG, 'circle');
    dot.setAttribute('cx', String(Math.max(2, Number(x))));
    dot.setAttribute('cy', y ?? '0');
    dot.setAttribute('r', '2');
    dot.setAttribute('class', 'spark-dot');
    svg.appendChild(dot);
  } else if (points.length > 1) {
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', points.join(' '));
    line.setAttribute('class', 'spark-line');
    svg.appendChild(line);
  }
  const last = ok.at(-1);
  svg.setAttribute('aria-label', last !== undefined ? `recent probe latencies, last ${last} ms, max ${max} ms` : 'no successful probe yet');
  return svg;
}

function actionButton(e: Pick<PanelEngine, 'key' | 'name'>, action: EngineAction, label: string, icon: string): HTMLButtonElement {
  const b = el('button', `action codicon-like ${action}`, icon);
  b.title = `${label} ${e.name}`;
  b.setAttribute('aria-label', `${label} ${e.name}`);
  b.dataset.action = action;
  b.dataset.key = e.key;
  return b;
}

/** The row above a group's replicas: its name, `6/8 healthy`, and actions on all of them. */
function groupRow(group: NonNullable<PanelEngine['group']>, members: readonly PanelEngine[], trusted: boolean): HTMLTableRowElement {
  const tr = el('tr', 'group');
  tr.dataset.key = group.key;
  const name = el('td', 'name', group.name);
  name.appendChild(el('span', 'replicas', ` ${members.length} replicas`));
  tr.appendChild(name);
  const state = el('td', 'state');
  state.appendChild(el('span', 'badge summary', healthySummary(members)));
  tr.appendChild(state);
  const rest = el('td', 'group-fill');
  // PID to Owner: nine columns, eight while the GPU column is hidden.
  rest.colSpan = document.body.classList.contains('has-gpu') ? 9 : 8;
  tr.appendChild(rest);
  const actions = el('td', 'actions');
  const named = { key: group.key, name: group.name };
  if (trusted && members.some((m) => !m.running)) actions.appendChild(actionButton(named, 'start', 'Start', '▶'));
  if (members.some((m) => m.running)) actions.appendChild(actionButton(named, 'stop', 'Stop', '■'));
  if (trusted && members.some((m) => m.running)) actions.appendChild(actionButton(named, 'restart', 'Restart', '↻'));
  tr.appendChild(actions);
  return tr;
}

/** The engines' rows in order, each group's replicas under a group row at the first replica's place. */
function rows(engines: readonly PanelEngine[], trusted: boolean, multiFolder: boolean): HTMLTableRowElement[] {
  const out: HTMLTableRowElement[] = [];
  const done = new Set<string>();
  for (const e of engines) {
    if (!e.group) {
      out.push(row(e, trusted, multiFolder));
      continue;
    }
    if (done.has(e.group.key)) continue;
    done.add(e.group.key);
    const members = engines.filter((m) => m.group?.key === e.group?.key);
    out.push(groupRow(e.group, members, trusted), ...members.map((m) => row(m, trusted, multiFolder)));
  }
  return out;
}

function row(e: PanelEngine, trusted: boolean, multiFolder: boolean): HTMLTableRowElement {
  const tr = el('tr', `state-${e.state}${e.group ? ' replica' : ''}`);
  tr.dataset.key = e.key;
  const name = el('td', 'name', e.name);
  if (multiFolder) name.appendChild(el('span', 'folder', ` ${e.folder}`));
  if (e.models && e.models.length > 0) {
    const models = el('div', 'models', e.models.join(', '));
    models.title = `Served models (/v1/models): ${e.models.join(', ')}`;
    name.appendChild(models);
  }
  tr.appendChild(name);
  const state = el('td', 'state');
  state.appendChild(el('span', `badge ${e.state}`, e.state));
  if (e.reason && EXPLAINED.has(e.state)) state.title = e.reason;
  tr.appendChild(state);
  // Why, in a word or a line: the failure's signature or last log line; its hint and lines on hover.
  const why = reasonText(e);
  const reason = el('td', 'reason', why || '–');
  if (e.failure) reason.title = [e.reason, e.failure.hint, ...e.failure.lines].filter(Boolean).join('\n');
  else if (why) reason.title = why;
  tr.appendChild(reason);
  tr.appendChild(el('td', 'pid', e.pid ? String(e.pid) : '–'));
  const ports = el('td', 'ports');
  const entries = Object.entries(e.ports);
  if (entries.length === 0) ports.textContent = '–';
  for (const [k, p] of entries) {
    const a = el('a', 'port', k === 'port' ? String(p) : `${k} ${p}`);
    a.href = '#';
    a.title = `Open ${httpUrl(e.host, p)}`;
    a.dataset.key = e.key;
    a.dataset.port = String(p);
    ports.appendChild(a);
  }
  tr.appendChild(ports);
  tr.appendChild(el('td', 'block', e.portBlock ? `${e.portBlock[0]}–${e.portBlock[1]}` : '–'));
  const health = el('td', 'health', e.health ? (e.health.ok ? `ok · ${e.health.latencyMs} ms` : e.health.detail) : '–');
  tr.appendChild(health);
  const recent = el('td', 'recent');
  if (e.history.length > 0) recent.appendChild(sparkline(e.history));
  tr.appendChild(recent);
  tr.appendChild(el('td', 'uptime', e.startedAt ? formatDuration(Date.now() - e.startedAt) : '–'));
  const restarts = el('td', 'restarts', String(e.restarts));
  if (e.previousExit) restarts.title = `previous exit: ${e.previousExit}`;
  tr.appendChild(restarts);
  tr.appendChild(el('td', 'gpu', e.gpuMemoryMiB !== null ? formatGiB(e.gpuMemoryMiB) : '–'));
  tr.appendChild(el('td', 'owner', e.owner ?? '–'));
  const actions = el('td', 'actions');
  const running = e.running;
  if (!running && trusted) actions.appendChild(actionButton(e, 'start', 'Start', '▶'));
  if (running) actions.appendChild(actionButton(e, 'stop', 'Stop', '■'));
  if (running && trusted) actions.appendChild(actionButton(e, 'restart', 'Restart', '↻'));
  actions.appendChild(actionButton(e, 'showLog', 'Show log of', '≣'));
  tr.appendChild(actions);
  return tr;
}

/** What has the keyboard focus, so a redraw can give it back (updates come every few seconds). */
function focusKey(): string | undefined {
  const a = document.activeElement as HTMLElement | null;
  if (!a || !a.dataset.key) return undefined;
  return `${a.dataset.key}|${a.dataset.action ?? ''}|${a.dataset.port ?? ''}`;
}

function restoreFocus(key: string | undefined): void {
  if (!key) return;
  for (const el of document.querySelectorAll<HTMLElement>('[data-key]')) {
    if (`${el.dataset.key}|${el.dataset.action ?? ''}|${el.dataset.port ?? ''}` === key) {
      el.focus();
      return;
    }
  }
}

function render(m: HostMessage): void {
  const focused = focusKey();
  // The GPU column only where nvidia-smi reports something.
  document.body.classList.toggle('has-gpu', m.engines.some((e) => e.gpuMemoryMiB !== null));
  tbody.replaceChildren(...rows(m.engines, m.trusted, m.multiFolder));
  restoreFocus(focused);
  table.hidden = m.engines.length === 0;
  emptyEl.hidden = m.engines.length > 0;
  const parts: string[] = [];
  if (!m.trusted) parts.push('This workspace is not trusted: Engine Room starts nothing here.');
  if (m.lock.holder) parts.push(`Start lock: held by ${m.lock.holder.label} for ${m.lock.holder.engines.join(', ')}.`);
  else parts.push('Start lock: free.');
  if (m.lock.queue.length > 0) parts.push(`Waiting: ${m.lock.queue.map((w) => `${w.engine} (pid ${w.pid})`).join(', ')}.`);
  // Only on a change: the line is a live region, and a screen reader would read it out again.
  const text = parts.join(' ');
  if (lockEl.textContent !== text) lockEl.textContent = text;
  lockEl.className = `lock${m.lock.holder ? ' held' : ''}${m.trusted ? '' : ' untrusted'}`;
}

document.addEventListener('click', (ev) => {
  const target = ev.target as HTMLElement | null;
  const button = target?.closest('button.action') as HTMLButtonElement | null;
  if (button?.dataset.key && button.dataset.action) {
    vscode.postMessage({ type: 'action', action: button.dataset.action as EngineAction, key: button.dataset.key });
    return;
  }
  const link = target?.closest('a.port') as HTMLAnchorElement | null;
  if (link?.dataset.key && link.dataset.port) {
    ev.preventDefault();
    vscode.postMessage({ type: 'openPort', key: link.dataset.key, port: Number(link.dataset.port) });
  }
});

window.addEventListener('message', (ev: MessageEvent<unknown>) => {
  if (isHostMessage(ev.data)) render(ev.data);
});

vscode.postMessage({ type: 'ready' });
