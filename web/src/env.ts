import { defineEnvVars } from '@sveltejs/kit/env';

/**
 * The web server's environment, validated when it starts (SvelteKit 3 "explicit environment variables";
 * the older `$env/dynamic/private` module is deprecated and only re-exports what is declared here).
 * Values are read when the built server starts (`static: false`), not baked in at build time.
 * adapter-node itself reads PORT (default 3000) and HOST (default 0.0.0.0).
 */
export const variables = defineEnvVars({
  GATEWAY_URL: {
    description:
      'Base URL of the gateway HTTP API that /api/* is forwarded to (default http://127.0.0.1:8080).',
    schema: (value: string | undefined): string => {
      const raw = value?.trim() || 'http://127.0.0.1:8080';
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new Error(`GATEWAY_URL must be a URL like http://host:8080, not ${JSON.stringify(raw)}`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new Error(`GATEWAY_URL must be an http(s) URL, not ${JSON.stringify(raw)}`);
      }
      return url.origin;
    },
  },
  GATEWAY_API_KEY: {
    description:
      "One of the gateway's API_KEYS, sent with every request to the gateway: needed for the Buy button " +
      '(POST /api/purchases), and for reading when the gateway has API_KEYS_REQUIRED_FOR_READS=true ' +
      '(default: none, and buying is refused). Never sent to the browser.',
    schema: (value: string | undefined): string | undefined => value?.trim() || undefined,
  },
});
