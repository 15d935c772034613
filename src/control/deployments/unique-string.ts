// ARM's uniqueString(): the arguments joined with '-', hashed with the 64-bit MurmurHash variant
// Azure Resource Manager uses (two 32-bit lanes with its own constants), written as 13 characters of
// RFC 4648 base32 in lower case (the top 64 bits, 5 at a time). Templates name resources with it,
// so it must give what Azure gives: the test vectors are Azure's outputs.
const C1 = 0xab0e9789;
const C2 = 0x239b961b;
const F1 = 0x85ebca6b;
const F2 = 0xc2b2ae35;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
const mul = (a: number, b: number) => Math.imul(a, b) >>> 0;

function fmix(h: number): number {
  h = mul(h ^ (h >>> 16), F1);
  h = mul(h ^ (h >>> 13), F2);
  return (h ^ (h >>> 16)) >>> 0;
}

function murmur64(bytes: Uint8Array): bigint {
  const length = bytes.length;
  const word = (at: number, count: number) => {
    let value = 0;
    for (let i = count - 1; i >= 0; i--) value = (value << 8) | bytes[at + i]!;
    return value >>> 0;
  };
  let h1 = 0;
  let h2 = 0;
  let at = 0;
  for (; at + 8 <= length; at += 8) {
    const k1 = mul(rotl(mul(word(at, 4), C2), 15), C1);
    const k2 = mul(rotl(mul(word(at + 4, 4), C1), 17), C2);
    h1 = (rotl(h1 ^ k1, 19) + h2) >>> 0;
    h1 = (Math.imul(h1, 5) + 0x561ccd1b) >>> 0;
    h2 = (rotl(h2 ^ k2, 13) + h1) >>> 0;
    h2 = (Math.imul(h2, 5) + 0x0bcaa747) >>> 0;
  }
  const rest = length - at;
  if (rest > 0) {
    h1 = (h1 ^ mul(rotl(mul(word(at, Math.min(rest, 4)), C2), 15), C1)) >>> 0;
    if (rest > 4) h2 = (h2 ^ mul(rotl(mul(word(at + 4, rest - 4), C1), 17), C2)) >>> 0;
  }
  h2 = (h2 ^ length) >>> 0;
  h1 = (((h1 ^ length) >>> 0) + h2) >>> 0;
  h2 = (h2 + h1) >>> 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h1 = (h1 + h2) >>> 0;
  h2 = (h2 + h1) >>> 0;
  return (BigInt(h2) << 32n) | BigInt(h1);
}

/** uniqueString(a, b, …): 13 lower-case base32 characters, deterministic for its arguments. */
export function uniqueString(values: readonly string[]): string {
  let hash = murmur64(new TextEncoder().encode(values.join('-')));
  let out = '';
  for (let i = 0; i < 13; i++) {
    out += ALPHABET[Number((hash >> 59n) & 31n)];
    hash = (hash << 5n) & 0xffffffffffffffffn;
  }
  return out;
}
