import { useConnectionState } from '../live/use-connection.js';

const LABEL = {
  connecting: 'Connecting…',
  connected: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
} as const;

export function ConnectionIndicator() {
  const state = useConnectionState();
  return (
    <span className={`conn conn-${state}`} role="status" aria-live="polite" data-testid="connection" data-state={state}>
      <span className="dot" aria-hidden="true" />
      {LABEL[state]}
    </span>
  );
}
