import adapter from '@sveltejs/adapter-node';
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

// SvelteKit 3 takes its configuration here (there is no svelte.config.js any more).
// adapter-node writes a standalone server to web/build: `node web/build/index.js` (PORT, HOST from the env).
export default defineConfig({
  plugins: [sveltekit({ adapter: adapter({ out: 'build' }) })],
});
