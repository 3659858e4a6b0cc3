import { createContext, useContext, useEffect, useState } from 'react';
import type { ReactNode } from 'react';
import type { ConnectionState, DroverClient } from '@drover/client';

const DroverContext = createContext<DroverClient | undefined>(undefined);

/** Gives every view the one client of this page: all data comes through it. */
export function DroverProvider({
  client,
  children,
}: {
  client: DroverClient;
  children: ReactNode;
}) {
  return <DroverContext.Provider value={client}>{children}</DroverContext.Provider>;
}

export function useDrover(): DroverClient {
  const client = useContext(DroverContext);
  if (!client) throw new Error('useDrover() needs a <DroverProvider> above it.');
  return client;
}

/** The client's connection state, re-rendering on each change. */
export function useConnectionState(): ConnectionState {
  const client = useDrover();
  const [state, setState] = useState(client.state);
  useEffect(() => {
    setState(client.state);
    return client.onStateChange(setState);
  }, [client]);
  return state;
}
