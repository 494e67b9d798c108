// The inspector page: wires the list, the delivery view and the chart to the receiver, and
// polls it about once a second, so deliveries show up as they arrive, without reloading.

import {ActivityChart} from './chart.js';
import {DeliveryView} from './detail.js';
import {DeliveryList} from './list.js';
import {get_json, on_connection} from './server.js';

const poll_interval_ms = 1000;
const activity_interval_ms = 10000;

const part = (id) => document.getElementById(id);

const list = new DeliveryList({
  table: part('deliveries'),
  body: part('rows'),
  empty: part('empty'),
  verdict: part('filter-verdict'),
  event: part('filter-event'),
  summary: part('summary'),
}, (id) => {
  history.replaceState(null, '', `#${id}`);
  view.show(id);
});
const view = new DeliveryView(part('detail'), list);
const chart = new ActivityChart(part('chart'), part('legend'));

let connection = 'online';
on_connection((state) => {
  connection = state;
  const live = part('live');
  live.className = `live ${state}`;
  live.textContent = {online: 'live', offline: 'no answer', 'signed-out': 'signed out'}[state];
  part('signed-out').hidden = state !== 'signed-out';
});

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function show_activity() {
  const answer = await get_json('/ui/api/activity');
  if (answer.ok) chart.show(answer.json);
}

async function run() {
  await list.poll();
  const wanted = Number(location.hash.slice(1));
  if (Number.isInteger(wanted) && wanted > 0) list.select(wanted);
  await show_activity();
  let activity_at = Date.now();
  while (connection !== 'signed-out') {
    await wait(poll_interval_ms);
    const arrived = await list.poll();
    if (view.needs_refresh()) await view.refresh();
    if (arrived || Date.now() - activity_at > activity_interval_ms) {
      await show_activity();
      activity_at = Date.now();
    }
  }
}

run();
