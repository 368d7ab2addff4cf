/**
 * The system Chromium for the console's browser test and screenshot (Debian's package `chromium`,
 * installed by `.ci/run`; playwright-core never downloads a browser of its own here). Headless as
 * root needs `--no-sandbox`; the network flags keep Chromium from calling home at every start,
 * which a closed network answers with refused connections.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
