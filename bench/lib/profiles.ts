// Reading profiles: V8 .cpuprofile files (node --cpu-prof) and `perf script` output, into self-time
// tables, categories, folded stacks and a flame graph (SVG).

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Folded {
  /** "root;child;leaf" → microseconds (or samples). */
  stacks: Map<string, number>;
  total: number;
  unit: string;
}

function frameName(frame: CpuProfileNode['callFrame'], repo: string): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  let url = frame.url.replace(/^file:\/\//, '');
  if (url.startsWith(repo)) url = url.slice(repo.length);
  url = url.replace(/^.*node_modules\//, '');
  return `${name} ${url}:${frame.lineNumber + 1}`;
}

/** Folded stacks from a V8 CPU profile, weighted by sampled time in microseconds. */
export function foldCpuProfile(profile: CpuProfile, repo: string): Folded {
  const byId = new Map<number, CpuProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const stackOf = new Map<number, string>();
  const stack = (id: number): string => {
    const cached = stackOf.get(id);
    if (cached !== undefined) return cached;
    const names: string[] = [];
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const node = byId.get(current)!;
      if (node.callFrame.functionName === '(root)') break;
      names.push(frameName(node.callFrame, repo));
    }
    const folded = names.reverse().join(';');
    stackOf.set(id, folded);
    return folded;
  };
  const stacks = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i + 1] ?? 0;
    const key = stack(profile.samples[i]!);
    if (key === '(idle)') continue;
    stacks.set(key, (stacks.get(key) ?? 0) + delta);
    total += delta;
  }
  return { stacks, total, unit: 'µs' };
}

/** Folded stacks from `perf script` output (one block per sample, leaf first). */
export function foldPerfScript(text: string, keepProcess?: (comm: string) => boolean): Folded {
  const stacks = new Map<string, number>();
  let total = 0;
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((line) => line.trim());
    if (lines.length === 0) continue;
    const header = lines[0]!;
    const comm = header.trim().split(/\s+/)[0] ?? '';
    if (keepProcess && !keepProcess(comm)) continue;
    const frames: string[] = [];
    for (const line of lines.slice(1)) {
      const match = /^\s*[0-9a-f]+\s+(.+?)\s+\(([^)]*)\)\s*$/.exec(line);
      if (!match) continue;
      let symbol = match[1]!.replace(/\+0x[0-9a-f]+$/, '');
      const dso = match[2]!.replace(/^.*\//, '').replace(/^\[|\]$/g, '');
      if (symbol === '[unknown]') symbol = `[${dso}]`;
      // JIT frames from --perf-basic-prof look like "LazyCompile:*name file:line" or "JS:*name ...".
      symbol = symbol.replace(/;/g, ',');
      frames.push(dso.startsWith('perf-') ? `js ${symbol}` : dso === 'kernel.kallsyms' ? `k ${symbol}` : symbol);
    }
    if (frames.length === 0) continue;
    const key = frames.reverse().join(';');
    stacks.set(key, (stacks.get(key) ?? 0) + 1);
    total++;
  }
  return { stacks, total, unit: 'samples' };
}

export function selfTime(folded: Folded): Map<string, number> {
  const self = new Map<string, number>();
  for (const [stack, value] of folded.stacks) {
    const leaf = stack.slice(stack.lastIndexOf(';') + 1);
    self.set(leaf, (self.get(leaf) ?? 0) + value);
  }
  return self;
}

/** Inclusive time of every frame (counted once per stack even when recursive). */
export function inclusiveTime(folded: Folded): Map<string, number> {
  const inclusive = new Map<string, number>();
  for (const [stack, value] of folded.stacks) {
    for (const frame of new Set(stack.split(';'))) inclusive.set(frame, (inclusive.get(frame) ?? 0) + value);
  }
  return inclusive;
}

/** A category for a JS frame (V8 profile). */
export function jsCategory(frame: string): string {
  if (frame.startsWith('(garbage collector)')) return 'garbage collection';
  if (frame.startsWith('(program)')) return 'native (OpenSSL, libuv, V8 runtime, syscalls)';
  if (/ src\/ingress\//.test(frame)) return 'certgate ingress (src/ingress)';
  if (/ src\/xfcc\//.test(frame)) return 'certgate XFCC (src/xfcc)';
  if (/ src\//.test(frame)) return 'certgate other';
  if (/ undici\//.test(frame)) return 'undici (to the app)';
  if (/ pino|sonic-boom/.test(frame)) return 'logging';
  if (/node:_http|node:http|node:internal\/http|_http_/.test(frame)) return 'node:http (parser, server, outgoing)';
  if (/node:_tls|node:tls|node:internal\/tls/.test(frame)) return 'node:tls';
  if (/node:internal\/streams|node:stream/.test(frame)) return 'node streams';
  if (/node:net|node:internal\/stream_base|node:internal\/net/.test(frame)) return 'node:net';
  if (/node:/.test(frame)) return 'node other';
  return 'other JS / builtins';
}

/** A category for a native frame (perf). */
export function nativeCategory(frame: string): string {
  if (frame.startsWith('k ')) return 'kernel (TCP loopback, syscalls, scheduling)';
  if (frame.startsWith('js ')) return 'JavaScript (JIT code)';
  if (/^(ecp_nistz256|ossl_ec|EC_|ECDSA|ec_|bn_|BN_|ossl_bn|x25519|ossl_x25519|X25519|fe51_|fe_|__ecp_nistz256|p256|ossl_ecdsa)/i.test(frame)) return 'public-key crypto (ECDSA, ECDH, bignum)';
  if (/^(aesni|_aesni|aes_|AES_|gcm_|ossl_gcm|_gcm|ghash|gcm_ghash|ChaCha|chacha|poly1305|Poly1305|sha256|sha512|SHA|ossl_sha|KECCAK|EVP_Digest|EVP_Encrypt|EVP_Decrypt|EVP_Cipher)/.test(frame)) return 'symmetric crypto and hashes';
  if (/^(SSL_|ssl|tls|ossl_statem|statem|dtls|ossl_ssl|OPENSSL_|ossl_|EVP_|OSSL_|ERR_|CRYPTO_|evp_|X509|x509|ASN1|asn1|d2i_|i2d_|PEM_|BIO_|bio_|c2i_|OBJ_|OPENSSL|ossl_provider|ossl_method|ossl_namemap|ossl_lib_ctx|ossl_decoder|ossl_encoder|ossl_property|property|ossl_rsa|PKCS|pkcs)/.test(frame)) return 'OpenSSL (TLS state machine, X.509, providers)';
  if (/node::crypto|node::TLSWrap|crypto::/.test(frame)) return 'Node TLS/crypto bindings';
  if (/^(v8::|Builtins_|Builtin:|v8_|V8|Heap|heap|cppgc)|v8::internal|RegExp|Runtime_/.test(frame)) return 'V8 (builtins, runtime, GC)';
  if (/^(uv_|uv__)|node::|llhttp|napi_/.test(frame)) return 'Node/libuv native';
  if (/^(__libc|__GI|__memmove|__memcpy|__memset|malloc|free|_int_malloc|_int_free|cfree|__strlen|pthread|epoll|__lll|__pthread|__mem|__str)/.test(frame)) return 'libc (memcpy, malloc, syscalls)';
  return 'other native';
}

export function categorize(table: Map<string, number>, category: (frame: string) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [frame, value] of table) {
    const name = category(frame);
    out.set(name, (out.get(name) ?? 0) + value);
  }
  return out;
}

export function topTable(table: Map<string, number>, total: number, limit: number, heading: [string, string]): string {
  const rows = [...table.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit);
  const lines = [`| ${heading[0]} | ${heading[1]} |`, '|---|---:|'];
  for (const [name, value] of rows) lines.push(`| \`${name.replace(/\|/g, '\\|').slice(0, 140)}\` | ${((value / total) * 100).toFixed(1)}% |`);
  return lines.join('\n');
}

export function foldedText(folded: Folded): string {
  return [...folded.stacks.entries()].map(([stack, value]) => `${stack} ${Math.round(value)}`).join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// A flame graph as SVG (widths are shares of the total; a <title> on each frame gives the details).

interface FlameNode {
  name: string;
  value: number;
  children: Map<string, FlameNode>;
}

export function flameGraph(folded: Folded, title: string, category: (frame: string) => string): string {
  const root: FlameNode = { name: 'all', value: 0, children: new Map() };
  for (const [stack, value] of folded.stacks) {
    root.value += value;
    let node = root;
    for (const frame of stack.split(';')) {
      let child = node.children.get(frame);
      if (!child) {
        child = { name: frame, value: 0, children: new Map() };
        node.children.set(frame, child);
      }
      child.value += value;
      node = child;
    }
  }
  const width = 1400;
  const rowHeight = 17;
  const minWidth = 1;
  let maxDepth = 0;
  const rects: string[] = [];
  const palette = new Map<string, string>();
  const colors = ['#e8590c', '#f08c00', '#2f9e44', '#1c7ed6', '#ae3ec9', '#e03131', '#0c8599', '#5c940d', '#d6336c', '#7048e8', '#495057', '#b08900'];
  const colorOf = (frame: string) => {
    const cat = category(frame);
    if (!palette.has(cat)) palette.set(cat, colors[palette.size % colors.length]!);
    return palette.get(cat)!;
  };
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const layout = (node: FlameNode, x: number, depth: number) => {
    const w = (node.value / Math.max(root.value, 1)) * width;
    if (w < minWidth) return;
    maxDepth = Math.max(maxDepth, depth);
    rects.push(JSON.stringify({ x, depth, w, name: node.name, value: node.value }));
    let childX = x;
    for (const child of [...node.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      layout(child, childX, depth + 1);
      childX += (child.value / Math.max(root.value, 1)) * width;
    }
  };
  layout(root, 0, 0);
  const top = 40;
  const height = top + (maxDepth + 1) * rowHeight + 20 + 20 * Math.ceil(8 / 3);
  const body: string[] = [];
  for (const raw of rects) {
    const r = JSON.parse(raw) as { x: number; depth: number; w: number; name: string; value: number };
    const y = top + (maxDepth - r.depth) * rowHeight;
    const share = ((r.value / Math.max(root.value, 1)) * 100).toFixed(2);
    const fill = r.name === 'all' ? '#adb5bd' : colorOf(r.name);
    const chars = Math.floor((r.w - 4) / 6.5);
    const label = chars >= 3 ? escape(r.name.length > chars ? `${r.name.slice(0, chars - 1)}…` : r.name) : '';
    body.push(`<g><title>${escape(r.name)} (${share}%)</title><rect x="${r.x.toFixed(2)}" y="${y}" width="${r.w.toFixed(2)}" height="${rowHeight - 1}" fill="${fill}" fill-opacity="0.75" rx="1"/>${label ? `<text x="${(r.x + 2).toFixed(2)}" y="${y + 12}" font-size="11">${label}</text>` : ''}</g>`);
  }
  const legendY = top + (maxDepth + 1) * rowHeight + 16;
  const legend = [...palette.entries()].map(([name, color], i) => `<rect x="${10 + (i % 3) * 460}" y="${legendY + Math.floor(i / 3) * 20 - 10}" width="12" height="12" fill="${color}" fill-opacity="0.75"/><text x="${28 + (i % 3) * 460}" y="${legendY + Math.floor(i / 3) * 20}" font-size="12">${escape(name)}</text>`);
  const fullHeight = legendY + Math.ceil(palette.size / 3) * 20 + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${Math.max(height, fullHeight)}" font-family="DejaVu Sans Mono, monospace">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="24" font-size="16" font-family="DejaVu Sans, sans-serif">${escape(title)}</text>
${body.join('\n')}
${legend.join('\n')}
</svg>
`;
}
