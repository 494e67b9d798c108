// One delivery in full: what it was, its errors with their places in the body, the likely
// causes of a signature mismatch, its queue history, its headers, and what can be done with it.

import {render_body} from './body.js';
import {clock_time, el, fill, skew_text, state_badge, verdict_badge} from './dom.js';
import {delivery_path, download_capture, get_json, post} from './server.js';
import {replay_command} from './replay.js';
import {settled_states} from './vocabulary.js';

// How many more times a settled delivery is read while its history lacks an attempt the
// store already counts (the history is noted a moment after the outcome).
const history_polls = 10;

export class DeliveryView {
  // `root` gets the view; `list` is told when a delivery goes back to the queue.
  constructor(root, list) {
    this.root = root;
    this.list = list;
    this.id = null;
    this.delivery = null;
    this.history_polls = 0;
    this.parts = null;
  }

  async show(id) {
    this.id = id;
    this.delivery = null;
    this.history_polls = history_polls;
    fill(this.root, el('p', {class: 'placeholder', text: `Loading delivery ${id}…`}));
    const answer = await get_json(delivery_path(id));
    if (this.id !== id) return;
    if (!answer.ok) {
      fill(this.root, el('p', {class: 'placeholder error-text', text: answer.error}));
      return;
    }
    this.delivery = answer.json;
    this.render();
  }

  // True while the delivery's queue state or history may still change.
  needs_refresh() {
    const queue = this.delivery && this.delivery.queue;
    if (!queue) return false;
    if (!settled_states.has(queue.state)) return true;
    return queue.history.length < queue.attempts && this.history_polls > 0;
  }

  // Reads the delivery again and shows its new queue state and history.
  async refresh() {
    const id = this.id;
    const answer = await get_json(delivery_path(id));
    if (this.id !== id || !answer.ok || !this.parts) return;
    const queue = answer.json.queue;
    if (queue && settled_states.has(queue.state)) this.history_polls--;
    this.delivery = answer.json;
    fill(this.parts.facts, this.facts());
    fill(this.parts.queue, this.queue_section());
  }

  render() {
    const d = this.delivery;
    this.parts = {
      facts: el('dl', {class: 'facts'}, this.facts()),
      queue: el('section', {class: 'queue-section'}, this.queue_section()),
      message: el('p', {class: 'action-message', role: 'status'}),
    };
    const body = render_body(d.body, d.marks);
    fill(this.root, [
      el('header', {class: 'detail-head'}, [
        verdict_badge(d.verdict),
        el('h2', {text: d.event || `${d.method} ${d.path}`}),
        el('span', {class: 'detail-id', text: `#${d.id}`}),
      ]),
      this.parts.facts,
      this.actions(),
      this.parts.message,
      this.errors_section(body.marked),
      this.parts.queue,
      el('section', {class: 'body-section'}, [
        el('h3', {}, ['Body ', el('span', {class: 'muted', text: `· ${d.body_bytes} bytes`})]),
        body.masked > 0 ? el('p', {class: 'muted', text: `${body.masked} personal ` +
          `value${body.masked > 1 ? 's are' : ' is'} hidden: click one to show it.`}) : null,
        body.note ? el('p', {class: 'muted', text: body.note}) : null,
        body.node,
      ]),
      this.headers_section(),
    ]);
  }

  facts() {
    const d = this.delivery;
    const fact = (name, value, title) => value === null || value === undefined || value === ''
        ? [] : [el('dt', {text: name}), el('dd', {text: value, title})];
    return [
      ...fact('Received', `${clock_time(d.time)} (${d.time})`),
      ...fact('From', d.client),
      ...fact('Request', `${d.method} ${d.path}`),
      ...fact('Answer', String(d.status)),
      ...fact('Skew', skew_text(d.skew_seconds)),
      ...fact('Key', d.key),
      ...fact('Secret', d.secret),
      ...fact('Error', d.error),
    ];
  }

  actions() {
    const d = this.delivery;
    const can_retry = this.list.queue && d.queue;
    const why_not = !this.list.queue
        ? 'This receiver hands nothing on: start tykhook listen with --forward-to or --exec.'
        : 'Only an ok delivery is in the queue.';
    const retry = el('button', {
      type: 'button', class: 'primary', id: 'retry', disabled: !can_retry,
      title: can_retry ? 'Send it to the target again (tykhook queue retry)' : why_not,
      text: 'Send again',
      onclick: () => this.retry(retry),
    });
    const download = el('button', {
      type: 'button', id: 'download', text: 'Download capture',
      title: 'A tykhook JSON capture: tykhook verify and tykhook replay read it',
      onclick: async () => this.say(await download_capture(d.id), 'Capture downloaded.'),
    });
    const command = replay_command(d, location.origin);
    const field = el('input', {
      type: 'text', class: 'command', id: 'replay-command', readonly: true, value: command,
      'aria-label': 'replay command', spellcheck: 'false',
    });
    const copy = el('button', {
      type: 'button', id: 'copy-replay', text: 'Copy replay command',
      title: 'Download the capture, then run this command where you saved it',
      onclick: () => this.copy(field),
    });
    return el('div', {class: 'actions'}, [
      el('div', {class: 'buttons'}, [retry, download, copy,
        can_retry ? null : el('span', {class: 'muted why-not', text: why_not})]),
      field,
    ]);
  }

  async retry(button) {
    button.disabled = true;
    const id = this.delivery.id;
    const answer = await post(delivery_path(id, 'retry'));
    if (this.id !== id) return;
    button.disabled = false;
    if (!answer.ok) {
      this.say(answer.error);
      return;
    }
    this.say(null, `Sent back to the queue: ${answer.json.state}.`);
    this.history_polls = history_polls;
    if (this.delivery.queue) this.delivery.queue.state = answer.json.state;
    fill(this.parts.queue, this.queue_section());
    this.list.requeued(id, answer.json.state);
  }

  async copy(field) {
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      this.say(null, 'Copied. Run it in the directory with the downloaded capture.');
    } catch (failure) {
      this.say(null, 'Selected: press Ctrl+C (or ⌘C) to copy it.');
    }
  }

  // Shows `error`, or `done` when there is none.
  say(error, done) {
    const message = this.parts.message;
    message.classList.toggle('error-text', Boolean(error));
    message.textContent = error || done || '';
  }

  errors_section(marked) {
    const d = this.delivery;
    const marks = d.marks || [];
    const items = (d.errors || []).map((error) => {
      const i = marks.findIndex((m) => `${m.pointer}: ${m.message}` === error);
      const target = i >= 0 ? marked[i] : null;
      if (!target) return el('li', {text: error});
      return el('li', {}, el('button', {
        type: 'button', class: 'link', title: 'Show it in the body',
        onclick: () => {
          target.scrollIntoView({block: 'center', behavior: 'smooth'});
          target.classList.remove('flash');
          void target.getBoundingClientRect();
          target.classList.add('flash');
        },
      }, [el('span', {class: 'note-number', text: String(i + 1)}), ` ${error}`]));
    });
    const hints = d.hints || [];
    return el('section', {class: 'errors-section'}, [
      items.length ? el('h3', {text: 'Errors'}) : null,
      items.length ? el('ul', {class: 'errors'}, items) : null,
      hints.length ? el('h3', {text: 'Likely causes'}) : null,
      hints.length ? el('ul', {class: 'hints'}, hints.map((h) => el('li', {text: h}))) : null,
      d.verdict === 'signature_mismatch' && hints.length === 0
          ? el('p', {class: 'muted', text: 'No likely cause found: the portal may sign with ' +
            'another secret than this receiver has.'}) : null,
    ]);
  }

  queue_section() {
    const d = this.delivery;
    const queue = d.queue;
    if (!queue) {
      return [el('h3', {text: 'Queue'}), el('p', {class: 'muted', text: this.list.queue
          ? `Not queued: only ok deliveries go to the target; this one is ${d.verdict}.`
          : 'Not queued: this receiver has no target (--forward-to or --exec).'})];
    }
    const facts = [el('span', {class: 'queue-now'}, [state_badge(queue.state),
      ` ${queue.attempts} attempt${queue.attempts === 1 ? '' : 's'}`])];
    if (queue.next_attempt) facts.push(` · next ${clock_time(queue.next_attempt)}`);
    // Each attempt on a line, and its error under it, as wide as the table.
    const history = queue.history.flatMap((h) => [
      el('tr', {class: 'attempt'}, [
        el('td', {class: 'time', title: h.time, text: clock_time(h.time)}),
        el('td', {class: 'num', text: h.attempt}),
        el('td', {}, state_badge(h.outcome)),
        el('td', {class: 'num', text: `${h.duration_ms.toFixed(1)} ms`}),
      ]),
      h.error ? el('tr', {class: 'attempt-error'},
          el('td', {colspan: '4', class: 'wrap error-text', text: h.error})) : null,
    ].filter(Boolean));
    return [
      el('h3', {text: 'Queue'}),
      el('p', {class: 'queue-facts'}, facts),
      // The store's last error, when no attempt of this receiver's worker shows it already.
      queue.last_error && queue.last_error !== queue.history.at(-1)?.error
          ? el('p', {class: 'error-text wrap', text: queue.last_error}) : null,
      history.length ? el('table', {class: 'history'}, [
        el('thead', {}, el('tr', {}, ['Ended', 'Attempt', 'Outcome', 'Took'].map(
            (name) => el('th', {text: name})))),
        el('tbody', {}, history),
      ]) : el('p', {class: 'muted', text: 'No attempt by this receiver yet.'}),
    ];
  }

  headers_section() {
    const headers = this.delivery.headers || [];
    return el('section', {class: 'headers-section'}, [
      el('h3', {text: 'Headers'}),
      headers.length === 0 ? el('p', {class: 'muted', text: 'None kept.'})
          : el('table', {class: 'headers'}, el('tbody', {}, headers.map(([name, value]) =>
            el('tr', {}, [el('th', {text: name}), el('td', {class: 'wrap', text: value})])))),
    ]);
  }
}
