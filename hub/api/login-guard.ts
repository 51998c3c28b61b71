// The limits on password logins. Per client address (10 failures a minute), so one caller cannot guess
// quickly; and per user name (20 failures in 15 minutes, from any addresses), so many callers together
// cannot either. The per-name limit must not let an attacker lock a user out: by failing 20 times each
// window anyone could keep a name refused for ever. So an address the user logged in from with the right
// password (in the last 30 days of this hub process) is exempt from its name's limit: the user's own
// machine logs in while strangers are refused. (Unknown user names are counted alike, so the limit tells
// nothing about who exists.) In memory: a restart resets it, fine for limits measured in minutes.

import { RateLimit } from './rate-limit.js';

const ADDRESS_FAILURES = 10;
const ADDRESS_WINDOW_MS = 60_000;
const USER_FAILURES = 20;
const USER_WINDOW_MS = 15 * 60_000;
/** How long an address a user logged in from stays exempt from that user's limit. */
const KNOWN_FOR_MS = 30 * 24 * 60 * 60_000;
/** Addresses remembered per user (the latest ones), and users at most, so memory stays bounded. */
const KNOWN_PER_USER = 16;
const KNOWN_USERS = 10_000;

export class LoginGuard {
  private readonly byAddress: RateLimit;
  private readonly byUser: RateLimit;
  /** User name -> address -> when the user last logged in from it. */
  private readonly known = new Map<string, Map<string, number>>();

  constructor(private readonly now: () => number = Date.now) {
    this.byAddress = new RateLimit(ADDRESS_FAILURES, ADDRESS_WINDOW_MS, now);
    this.byUser = new RateLimit(USER_FAILURES, USER_WINDOW_MS, now);
  }

  /**
   * Before a password is checked: a 429 when this address, or this user name from an address it never
   * logged in from, failed too often; else the attempt counts as a failure until `succeeded` takes it
   * back. Counted before the (slow, asynchronous) hash, so guesses sent all at once cannot each pass the
   * check before any of them failed.
   */
  attempt(user: string, address: string): void {
    const known = this.isKnown(user, address);
    this.byAddress.check(address);
    if (!known) this.byUser.check(user, ` for user "${user}"`);
    this.byAddress.fail(address);
    if (!known) this.byUser.fail(user);
  }

  /** The right password: this address is the user's from now on. */
  succeeded(user: string, address: string): void {
    this.byAddress.forgive(address);
    if (!this.isKnown(user, address)) this.byUser.forgive(user);
    let addresses = this.known.get(user);
    if (!addresses) {
      if (this.known.size >= KNOWN_USERS) this.forgetOldest();
      addresses = new Map();
      this.known.set(user, addresses);
    }
    addresses.delete(address); // re-inserted last: a Map iterates oldest first
    addresses.set(address, this.now());
    const oldest = addresses.keys().next().value;
    if (addresses.size > KNOWN_PER_USER && oldest !== undefined) addresses.delete(oldest);
  }

  private isKnown(user: string, address: string): boolean {
    const at = this.known.get(user)?.get(address);
    return at !== undefined && this.now() - at < KNOWN_FOR_MS;
  }

  private forgetOldest(): void {
    const oldest = this.known.keys().next().value;
    if (oldest !== undefined) this.known.delete(oldest);
  }
}
