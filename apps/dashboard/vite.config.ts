import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The dashboard is served by the Drover server itself at `/`; `vite dev` proxies the farm's
// JSON-RPC, WebSocket and artifact routes to a farm on the default port.
const farm = process.env.DROVER_SERVER ?? 'http://127.0.0.1:7400';

export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1024 },
  server: {
    proxy: {
      '/rpc': farm,
      '/artifacts': farm,
      '/healthz': farm,
      '/ws': { target: farm.replace(/^http/, 'ws'), ws: true },
    },
  },
});
