// The `tykhook replay` command that sends a delivery's downloaded capture again.

import {shell_quote} from './dom.js';
import {capture_name} from './server.js';

// The command line for `delivery`, sent to this receiver (at `origin`) on the delivery's own
// path. A stale one gets --fresh-timestamp, which re-signs it with the configured secret
// (PORTAL_WEBHOOKS_SECRET or --secret-file), or the receiver would refuse it again.
export function replay_command(delivery, origin) {
  const words = ['tykhook', 'replay', capture_name(delivery.id), '--to', origin + delivery.path];
  if (delivery.verdict === 'stale') words.push('--fresh-timestamp');
  return words.map(shell_quote).join(' ');
}
