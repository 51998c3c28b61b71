// A real OpenSSH server on a 127.0.0.1 port for tests that reach git over SSH: Debian's sshd run in
// the foreground with its own config, a fresh host key and one authorized key. sshd needs root (it
// changes to the logging-in user); sshdUnavailable() says why it cannot start here, for the skip note.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from './free-port.js';

const SSHD = '/usr/sbin/sshd';

export interface TestSshd {
  port: number;
  /** The user that logs in (the test process's own: root). */
  user: string;
  close(): Promise<void>;
}

/** Why an sshd cannot run here, or undefined when it can. */
export function sshdUnavailable(): string | undefined {
  if (!existsSync(SSHD)) return `${SSHD} is not installed (apt-get install openssh-server)`;
  if (process.getuid?.() !== 0) return 'sshd must run as root to log users in';
  return undefined;
}

/** Generates an ed25519 key pair at `file` (and `file.pub`), protected by `passphrase` if given. */
export function makeKey(file: string, passphrase = ''): { privateKey: string; publicKey: string } {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'outpost-test', '-f', file]);
  return {
    privateKey: execFileSync('cat', [file], { encoding: 'utf8' }),
    publicKey: execFileSync('cat', [`${file}.pub`], { encoding: 'utf8' }),
  };
}

/** Starts sshd in `dir` accepting `authorizedKeys` for root; resolves once it listens. */
export async function startSshd(dir: string, authorizedKeys: string[]): Promise<TestSshd> {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  await writeFile(path.join(dir, 'authorized_keys'), `${authorizedKeys.join('\n')}\n`, { mode: 0o600 });
  const config = path.join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `HostKey ${path.join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      'ListenAddress 127.0.0.1',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      '',
    ].join('\n'),
  );
  await mkdir('/run/sshd', { recursive: true }); // sshd's privilege-separation directory
  const port = await freePort();
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', config, '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      seen += d;
      if (seen.includes('Server listening')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`sshd exited (${code}): ${seen}`)));
  });
  return {
    port,
    user: 'root',
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.on('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
