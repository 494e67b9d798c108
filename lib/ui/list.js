// The list of deliveries, newest first: new ones are fetched with ?after=LATEST and put on top,
// the queue state of those still in the queue is read again until it settles, and the filters
// ask the receiver for one verdict or one event.

import {clock_time, el, fill, state_badge, verdict_badge} from './dom.js';
import {get_json} from './server.js';
import {events, settled_states, verdicts} from './vocabulary.js';

const first_page = 200;
const max_rows = 1000;

export class DeliveryList {
  // `parts`: table, body (its tbody), empty (shown without rows), verdict and event (the filter
  // selects), summary (the counts); `on_select(id)` is called when a row is chosen.
  constructor(parts, on_select) {
    this.parts = parts;
    this.on_select = on_select;
    this.rows = new Map();  // id -> {row, delivery}
    this.latest = null;     // the newest id the receiver gave; null before the first page
    this.generation = 0;    // bumped when the filters change, so late answers are dropped
    this.selected = null;
    this.queue = false;
    this.seen_events = new Set(events);
    fill_select(parts.verdict, verdicts);
    fill_select(parts.event, events);
    parts.verdict.addEventListener('change', () => this.reset());
    parts.event.addEventListener('change', () => this.reset());
    parts.body.addEventListener('click', (event) => {
      const row = event.target.closest('tr[data-id]');
      if (row) this.select(Number(row.dataset.id));
    });
    parts.body.addEventListener('keydown', (event) => this.key(event));
  }

  // The query of the filters, with `extra` parameters.
  query(extra) {
    const params = new URLSearchParams(extra);
    if (this.parts.verdict.value) params.set('verdict', this.parts.verdict.value);
    if (this.parts.event.value) params.set('event', this.parts.event.value);
    return `/ui/api/deliveries?${params}`;
  }

  reset() {
    this.generation++;
    this.latest = null;
    this.rows.clear();
    this.parts.body.replaceChildren();
    this.show_empty();
  }

  // Reads what is new; returns true when deliveries arrived.
  async poll() {
    const generation = this.generation;
    const first = this.latest === null;
    const answer = await get_json(
        this.query(first ? {limit: first_page} : {after: this.latest, limit: max_rows}));
    if (generation !== this.generation || !answer.ok) return false;
    const page = answer.json;
    this.queue = page.queue;
    this.parts.table.classList.toggle('with-queue', page.queue);
    this.latest = page.latest;
    this.show_summary(page);
    const arrived = page.deliveries.length > 0;
    if (arrived) this.prepend(page.deliveries);
    if (!first) await this.refresh_unsettled(generation);
    this.show_empty();
    return arrived;
  }

  // Reads again the rows down to the oldest one whose queue state may still change.
  async refresh_unsettled(generation) {
    let depth = 0;
    let index = 0;
    for (const row of this.parts.body.children) {
      index++;
      const entry = this.rows.get(Number(row.dataset.id));
      if (entry && unsettled(entry.delivery)) depth = index;
    }
    if (depth === 0) return;
    const answer = await get_json(this.query({limit: Math.min(max_rows, depth + 10)}));
    if (generation !== this.generation || !answer.ok) return;
    for (const delivery of answer.json.deliveries) {
      const entry = this.rows.get(delivery.id);
      if (entry && JSON.stringify(entry.delivery.queue) !== JSON.stringify(delivery.queue)) {
        this.replace_row(entry, delivery);
      }
    }
  }

  // Notes that delivery `id` went back to the queue, in state `state`.
  requeued(id, state) {
    const entry = this.rows.get(id);
    if (!entry || !entry.delivery.queue) return;
    this.replace_row(entry, {...entry.delivery, queue: {...entry.delivery.queue, state}});
  }

  prepend(deliveries) {
    const rows = document.createDocumentFragment();
    for (const delivery of deliveries) {
      if (this.rows.has(delivery.id)) continue;
      const row = this.row(delivery);
      this.rows.set(delivery.id, {row, delivery});
      rows.append(row);
      this.note_event(delivery.event);
    }
    this.parts.body.prepend(rows);
    while (this.parts.body.children.length > max_rows) {
      const oldest = this.parts.body.lastElementChild;
      this.rows.delete(Number(oldest.dataset.id));
      oldest.remove();
    }
  }

  replace_row(entry, delivery) {
    const row = this.row(delivery);
    entry.row.replaceWith(row);
    entry.row = row;
    entry.delivery = delivery;
  }

  row(delivery) {
    const queue = delivery.queue;
    const row = el('tr', {
      class: `row${delivery.id === this.selected ? ' selected' : ''}`,
      tabindex: '0',
      dataset: {id: String(delivery.id), verdict: delivery.verdict || ''},
    }, [
      el('td', {class: 'time', title: delivery.time, text: clock_time(delivery.time, true)}),
      el('td', {class: 'client', title: delivery.client, text: host_of(delivery.client)}),
      el('td', {class: 'request', title: `${delivery.method} ${delivery.path}`},
          [el('span', {class: 'method', text: delivery.method}), ` ${delivery.path}`]),
      el('td', {class: 'event', text: delivery.event || '—'}),
      el('td', {class: 'verdict-cell', title: delivery.error || undefined},
          verdict_badge(delivery.verdict)),
      el('td', {class: 'status', text: delivery.status}),
      el('td', {class: 'col-queue queue-state'}, queue ? state_badge(queue.state) : '—'),
      el('td', {class: 'col-queue attempts', text: queue ? queue.attempts : ''}),
    ]);
    return row;
  }

  select(id) {
    if (this.selected !== null) this.rows.get(this.selected)?.row.classList.remove('selected');
    this.selected = id;
    const entry = this.rows.get(id);
    if (entry) entry.row.classList.add('selected');
    this.on_select(id);
  }

  key(event) {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp' && event.key !== 'Enter') return;
    const row = event.target.closest('tr[data-id]');
    if (!row) return;
    event.preventDefault();
    const next = event.key === 'Enter' ? row
        : event.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling;
    if (!next) return;
    next.focus();
    this.select(Number(next.dataset.id));
  }

  note_event(name) {
    if (!name || this.seen_events.has(name)) return;
    this.seen_events.add(name);
    this.parts.event.append(el('option', {value: name, text: name}));
  }

  show_summary(page) {
    const parts = [`${page.kept} kept`];
    if (page.dropped > 0) parts.push(`${page.dropped} let go`);
    parts.push(page.queue ? 'queue on' : 'no target');
    if (page.queue_error) parts.push(`queue unreadable: ${page.queue_error}`);
    this.parts.summary.textContent = parts.join(' · ');
  }

  show_empty() {
    const empty = this.rows.size === 0;
    this.parts.empty.hidden = !empty || this.latest === null;
    this.parts.table.classList.toggle('is-empty', empty);
    const filtered = this.parts.verdict.value || this.parts.event.value;
    fill(this.parts.empty, filtered
        ? 'No deliveries match the filters.'
        : ['No deliveries yet. Send some: ',
          el('code', {text: `tykhook send --all --to ${location.origin}/`})]);
  }
}

function fill_select(select, names) {
  for (const name of names) select.append(el('option', {value: name, text: name}));
}

// "127.0.0.1" of "127.0.0.1:51072", "::1" of "[::1]:51072".
function host_of(client) {
  const match = /^\[?(.*?)\]?:\d+$/.exec(client || '');
  return match ? match[1] : client;
}

function unsettled(delivery) {
  return delivery.queue && !settled_states.has(delivery.queue.state);
}
