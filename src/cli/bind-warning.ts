// The warning `certgate serve` prints when it listens beyond this machine while apps are named
// under certgate.localhost: only this machine resolves *.localhost (RFC 6761), so remote clients
// could reach the port but never an app by name (and would be tempted to skip SNI, or -k).
import net from 'node:net';

export function isLoopbackAddress(address: string): boolean {
  if (address === 'localhost' || address === '::1') return true;
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  return v4 !== undefined && net.isIPv4(v4) && v4.startsWith('127.');
}

/** The warning's text, or undefined when every bind address is loopback or the domain is not the local default. */
export function bindWarning(binds: readonly { flag: string; address: string }[], domain: string, localDomain: string): string | undefined {
  if (domain !== localDomain) return undefined;
  const open = binds.filter((bind) => !isLoopbackAddress(bind.address));
  if (open.length === 0) return undefined;
  const listed = open.map((bind) => `${bind.flag} ${bind.address}`).join(' and ');
  return [
    `WARNING: ${listed} ${open.length > 1 ? "listen" : "listens"} beyond this machine, but apps are named under ${localDomain}, which only this machine resolves: remote clients cannot reach them by name.`,
    `  Choose a domain that resolves to this host: --domain apps.example.com (or CERTGATE_DOMAIN), with DNS records for *.<environment>.apps.example.com.`,
    `  It applies to environments created from then on (each keeps the default domain it was created with).`,
  ].join('\n');
}
