// A throwaway self-signed certificate for the fake API server. The certificate is its own CA (the
// kubeconfig carries it as certificate-authority-data), so clients verify TLS exactly as they would
// against a real cluster: no skipTLSVerify, no NODE_TLS_REJECT_UNAUTHORIZED.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface ServerTls {
  certPem: string;
  keyPem: string;
}

let cached: ServerTls | undefined;

/** One key pair per test process: RSA generation is the slow part and the cert is only for 127.0.0.1. */
export function serverTls(): ServerTls {
  if (cached) return cached;
  // Node's native RSA is ~100x faster than node-forge's pure JS key generation.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(pubPem);
  cert.serialNumber = '01' + randomBytes(8).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600_000);
  const subject = [{ name: 'commonName', value: 'fake-kube-apiserver' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 7, ip: '127.0.0.1' },
        { type: 2, value: 'localhost' },
      ],
    },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  cached = { certPem: forge.pki.certificateToPem(cert), keyPem };
  return cached;
}
