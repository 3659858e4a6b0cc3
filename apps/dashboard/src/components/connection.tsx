import { useConnectionState } from '../lib/drover.js';

const LABEL = {
  connecting: 'connecting…',
  open: 'live',
  reconnecting: 'reconnecting…',
  closed: 'closed',
} as const;

/** Whether the page is live: always in view, so a stale screen never passes for a live one. */
export function ConnectionBadge() {
  const state = useConnectionState();
  return (
    <span className={`connection connection-${state}`} data-connection={state} role="status">
      <span className="dot" />
      {LABEL[state]}
    </span>
  );
}
