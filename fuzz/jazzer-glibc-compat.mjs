// Preload (`node --import ./fuzz/jazzer-glibc-compat.mjs`) that lets Jazzer.js 4.0's prebuilt
// linux-x64 fuzzer load on glibc < 2.38 / libstdc++ < GCC 13 (Debian 12, Ubuntu 22.04).
//
// The prebuild imports three symbols only newer runtimes define: `__isoc23_strtol` and
// `__isoc23_strtoul` (glibc 2.38's C23 aliases of strtol/strtoul, which differ only in accepting
// a `0b` prefix; libFuzzer parses base-10 flags with them) and `std::ios_base_library_init()`
// (GCC 13's way to construct the iostream objects, which `std::ios_base::Init::Init()` also does
// and which ignores `this`). When loading the addon fails for exactly that reason, a copy is
// written to the temp directory with those imports renamed to the older symbols, made
// unversioned, and their version requirements marked weak; the original file is never touched.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const RENAMES = new Map([
  ['__isoc23_strtol', 'strtol'],
  ['__isoc23_strtoul', 'strtoul'],
  ['_ZSt21ios_base_library_initv', '_ZNSt8ios_base4InitC1Ev'],
]);
const MISSING_VERSIONS = new Set(['GLIBC_2.38', 'GLIBCXX_3.4.32']);
const ADDON = /[\\/]@jazzer\.js[\\/]fuzzer[\\/]prebuilds[\\/]fuzzer-linux-x64\.node$/;

const SHT_DYNSYM = 11;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const VER_NDX_GLOBAL = 1;
const VER_FLG_WEAK = 2;

/** Returns a patched copy of an ELF64 little-endian shared object, or throws if it is not one. */
export function patchElf(input) {
  const elf = Buffer.from(input);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) throw new Error('not an ELF64 little-endian file');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    sections.push({
      type: elf.readUInt32LE(at + 4),
      offset: Number(elf.readBigUInt64LE(at + 0x18)),
      size: Number(elf.readBigUInt64LE(at + 0x20)),
      link: elf.readUInt32LE(at + 0x28),
    });
  }
  const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
  const versym = sections.find((s) => s.type === SHT_GNU_VERSYM);
  const verneed = sections.find((s) => s.type === SHT_GNU_VERNEED);
  if (!dynsym || !versym || !verneed) throw new Error('no dynamic symbol version tables');
  const dynstr = sections[dynsym.link];
  const stringAt = (offset) => {
    const start = dynstr.offset + offset;
    return elf.toString('latin1', start, elf.indexOf(0, start));
  };

  let renamed = 0;
  for (let index = 0; index < dynsym.size / 24; index++) {
    const nameOffset = elf.readUInt32LE(dynsym.offset + index * 24);
    const replacement = RENAMES.get(stringAt(nameOffset));
    if (replacement === undefined) continue;
    // Written over the start of the old name: a shorter name's tail may be shared with another
    // symbol's name, and that tail stays intact.
    elf.write(`${replacement}\0`, dynstr.offset + nameOffset, 'latin1');
    elf.writeUInt16LE(VER_NDX_GLOBAL, versym.offset + index * 2);
    renamed++;
  }

  let weakened = 0;
  for (let need = verneed.offset; ; ) {
    const count = elf.readUInt16LE(need + 2);
    for (let aux = need + elf.readUInt32LE(need + 8), i = 0; i < count; i++) {
      if (MISSING_VERSIONS.has(stringAt(elf.readUInt32LE(aux + 8)))) {
        elf.writeUInt16LE(elf.readUInt16LE(aux + 4) | VER_FLG_WEAK, aux + 4);
        weakened++;
      }
      aux += elf.readUInt32LE(aux + 12);
    }
    const next = elf.readUInt32LE(need + 12);
    if (next === 0) break;
    need += next;
  }
  if (renamed === 0 && weakened === 0) throw new Error('nothing to patch');
  return elf;
}

function patchedCopy(original) {
  const bytes = readFileSync(original);
  const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'certgate-jazzer-compat');
  const target = join(dir, `${digest}-${basename(original)}`);
  if (!existsSync(target)) {
    mkdirSync(dir, { recursive: true });
    const partial = `${target}.${process.pid}.tmp`;
    writeFileSync(partial, patchElf(bytes));
    renameSync(partial, target); // atomic: concurrent runs never load a half-written file
  }
  return target;
}

const dlopen = process.dlopen;
process.dlopen = function compatDlopen(module, filename, ...rest) {
  try {
    return dlopen.call(process, module, filename, ...rest);
  } catch (error) {
    const missing = /GLIBC_2\.38|GLIBCXX_3\.4\.32/.test(String(error?.message));
    if (!missing || !ADDON.test(filename)) throw error;
    return dlopen.call(process, module, patchedCopy(filename), ...rest);
  }
};
