import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'jsdom',
    include: ['test/**/*.test.js'],
    pool: 'forks',
    testTimeout: 60000,
    hookTimeout: 30000,
    // Each file starts its own server; the media files share two cores.
    maxWorkers: 3,
  },
});
