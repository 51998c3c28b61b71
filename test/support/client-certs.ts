// A throwaway CA and client certificates it signs (openssl), for mTLS tests: the hub checks agents'
// client certificates against the CA (--tls-client-ca), agents present theirs (hub.tls.cert_file).

import { execFileSync } from 'node:child_process';
import path from 'node:path';

export interface TestCa {
  certFile: string;
  /** Writes `<name>.crt` and `<name>.key` in the CA's dir, a client certificate for `cn` it signs. */
  issue(name: string, cn: string): { certFile: string; keyFile: string };
}

const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });

/** Writes `<name>-ca.crt` and `<name>-ca.key` (P-256, valid one day) in `dir`. */
export function testCa(dir: string, name: string): TestCa {
  const caKey = path.join(dir, `${name}-ca.key`);
  const caCert = path.join(dir, `${name}-ca.crt`);
  openssl([
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'],
    ...['-subj', `/CN=${name} test CA`, '-keyout', caKey, '-out', caCert],
  ]);
  return {
    certFile: caCert,
    issue(leaf, cn) {
      const keyFile = path.join(dir, `${leaf}.key`);
      const certFile = path.join(dir, `${leaf}.crt`);
      const csr = path.join(dir, `${leaf}.csr`);
      openssl([
        ...['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
        ...['-subj', `/CN=${cn}`, '-keyout', keyFile, '-out', csr],
      ]);
      openssl([
        ...['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-days', '1'],
        ...['-out', certFile],
      ]);
      return { certFile, keyFile };
    },
  };
}
