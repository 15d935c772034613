// RC2 and RC4, which old PKCS#12 files (`openssl pkcs12 -export -legacy`, older Windows exports)
// use, exist only in OpenSSL's legacy provider. Loading that provider into certgate itself would
// make those ciphers available to everything in the process (the TLS listeners included); instead
// one short-lived child Node, started with --openssl-legacy-provider, runs the single decryption
// and exits. Only bytes go in (key, IV, ciphertext on stdin) and out (the plaintext on stdout).
import { execFile } from 'node:child_process';

// Run by the child: exit 2 when the cipher is not available even there, 3 when decryption fails
// (padding: a wrong password or a damaged file).
const CHILD = `
const { createDecipheriv } = require('node:crypto');
let input = '';
process.stdin.setEncoding('utf8').on('data', (chunk) => (input += chunk)).on('end', () => {
  const job = JSON.parse(input);
  let decipher;
  try {
    decipher = createDecipheriv(job.cipher, Buffer.from(job.key, 'base64'), job.iv ? Buffer.from(job.iv, 'base64') : null);
  } catch (error) {
    process.stderr.write(error.message);
    process.exit(2);
  }
  try {
    const plain = Buffer.concat([decipher.update(Buffer.from(job.data, 'base64')), decipher.final()]);
    process.stdout.write(plain.toString('base64'));
  } catch (error) {
    process.stderr.write(error.message);
    process.exit(3);
  }
});
`;

export type LegacyDecryptResult = { ok: true; plain: Buffer } | { ok: false; reason: 'unavailable' | 'decrypt'; message: string };

/** Decrypts `data` with a cipher of OpenSSL's legacy provider, in a child Node (10 s at most). */
export function decryptWithLegacyProvider(cipher: string, key: Uint8Array, iv: Uint8Array | undefined, data: Uint8Array): Promise<LegacyDecryptResult> {
  const job = JSON.stringify({ cipher, key: Buffer.from(key).toString('base64'), iv: iv ? Buffer.from(iv).toString('base64') : null, data: Buffer.from(data).toString('base64') });
  // Nothing of this process's Node settings (NODE_OPTIONS could name another OpenSSL config).
  const env = { PATH: process.env['PATH'] ?? '' };
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--openssl-legacy-provider', '-e', CHILD],
      { env, timeout: 10_000, maxBuffer: Math.ceil(data.length * 1.4) + 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) return resolve({ ok: true, plain: Buffer.from(stdout, 'base64') });
        const code = (error as { code?: unknown }).code;
        resolve({ ok: false, reason: code === 3 ? 'decrypt' : 'unavailable', message: stderr.trim() || error.message });
      },
    );
    child.stdin!.end(job);
  });
}
