// Outpost's release version: what the hub reports on /info and what `outpost sync` compares it with
// (the hub, the agent and the CLI come in one package, so they share it).
export const OUTPOST_VERSION = '0.1.0';
