// A fresh self-signed certificate for 127.0.0.1 (openssl), for test servers that speak TLS to the code
// under test: the certificate is its own CA, so a client trusts it only when told to.

import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface SelfSigned {
  key: string;
  cert: string;
  keyFile: string;
  certFile: string;
}

/** Writes `<name>.key` and `<name>.crt` in `dir` (P-256, valid one day) and returns both PEMs. */
export async function selfSignedCert(dir: string, name: string): Promise<SelfSigned> {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.crt`);
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'],
      ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      ...['-keyout', keyFile, '-out', certFile],
    ],
    { stdio: 'ignore' },
  );
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), keyFile, certFile };
}
