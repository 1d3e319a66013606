import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS } from './e2e/session';

export default defineConfig({
  testDir: './e2e',
  timeout: 60_000,
  retries: 0,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: process.env.TSUNAGU_URL ?? 'http://127.0.0.1:8080',
    headless: true,
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    },
  },
});
