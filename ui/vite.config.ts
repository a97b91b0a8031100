/// <reference types="vitest/config" />
// Vite builds the console into ui/dist, which ui/embed.go embeds in the herald binary.
// In development (`npm run dev`) /graphql (and the explorer's /console/schema.graphql) is
// proxied to a herald running on :8080, so the session cookie stays same-origin.
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const api = process.env.HERALD_API ?? 'http://127.0.0.1:8080';

// keepGitkeep re-emits dist/.gitkeep, which an emptied outDir would lose: the committed
// placeholder keeps `//go:embed all:dist` valid in a fresh clone that has not built the UI.
function keepGitkeep(): Plugin {
  return {
    name: 'herald-keep-gitkeep',
    apply: 'build',
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: '.gitkeep', source: '' });
    },
  };
}

export default defineConfig({
  plugins: [react(), keepGitkeep()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    rolldownOptions: {
      output: {
        // The large libraries in chunks of their own, cached across console releases that
        // do not change them. GraphiQL is already apart: the explorer loads it lazily.
        codeSplitting: {
          groups: [
            { name: 'echarts', test: /node_modules[\\/](echarts|zrender)[\\/]/ },
            { name: 'antd', test: /node_modules[\\/](antd|@ant-design|@rc-component|rc-[^\\/]+)[\\/]/ },
          ],
        },
      },
    },
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: {
      '/graphql': { target: api, changeOrigin: false, ws: true },
      '/console': { target: api, changeOrigin: false },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
  },
});
