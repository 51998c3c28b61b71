import { describe, expect, it } from 'vitest';
import { LoginGuard } from './login-guard.js';

describe('LoginGuard', () => {
  it("refuses a name for its window only, and exempts the user's own address for 30 days", () => {
    let now = 0;
    const guard = new LoginGuard(() => now);
    guard.attempt('alice', 'home');
    guard.succeeded('alice', 'home');
    for (let i = 0; i < 20; i++) guard.attempt('alice', `attacker-${i}`);
    expect(() => guard.attempt('alice', 'elsewhere')).toThrow(/for user "alice"; try again in 900s/);
    expect(() => guard.attempt('alice', 'home')).not.toThrow();
    // The window passes: anyone may try the name again.
    now = 15 * 60_000;
    expect(() => guard.attempt('alice', 'elsewhere')).not.toThrow();
    // Thirty days without a login from it, the address is a stranger's.
    now = 30 * 24 * 60 * 60_000 + 1;
    for (let i = 0; i < 20; i++) guard.attempt('alice', `attacker-${i}`);
    expect(() => guard.attempt('alice', 'home')).toThrow(/for user "alice"/);
  });

  it('takes back the counted attempt of a right password', () => {
    const guard = new LoginGuard(() => 0);
    for (let i = 0; i < 30; i++) {
      guard.attempt('bob', 'office');
      guard.succeeded('bob', 'office');
    }
    expect(() => guard.attempt('bob', 'office')).not.toThrow();
  });
});
