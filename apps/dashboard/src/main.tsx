import './lib/jitless.js';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { DroverClient } from '@drover/client';
import { App } from './app.js';
import { DroverProvider } from './lib/drover.js';
import { SessionProvider } from './lib/session.js';
import './styles.css';

// The page talks to the server that served it, over the same WebSocket every client uses,
// signed in by the session cookie the WebSocket's upgrade carries.
const client = new DroverClient({ url: location.origin });

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <DroverProvider client={client}>
      <SessionProvider>
        <App />
      </SessionProvider>
    </DroverProvider>
  </StrictMode>,
);
