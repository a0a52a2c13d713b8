import { useSyncExternalStore } from 'react';
import { live, type ConnectionState } from './socket.js';

export function useConnectionState(): ConnectionState {
  return useSyncExternalStore(
    (cb) => live.onState(cb),
    () => live.getState(),
  );
}
