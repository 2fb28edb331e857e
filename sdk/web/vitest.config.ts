import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60000,
    hookTimeout: 30000,
    // Each file starts its own server and Chromium; two cores here.
    maxWorkers: 2,
  },
});
