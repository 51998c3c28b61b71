// Debian's chromium (.ci/run installs it) driven by playwright-core: no browser download. One place for
// the flags the UI test and the UI benchmark share.

/** Where Debian's package puts it. */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless, no sandbox (CI runs as root), nothing that talks to the network on its own. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-quic',
  '--no-first-run',
  '--disable-sync',
];
