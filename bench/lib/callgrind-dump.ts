// Reading callgrind's dumps (bench/observe.ts counts instructions with callgrind where perf cannot).

/**
 * A callgrind dump's instructions, all of them and those of V8's optimizing compilers (TurboFan,
 * Maglev: functions of v8::internal::compiler and ::maglev), from the self cost of each function
 * (a cost line after `calls=` is the call's inclusive cost, not the caller's own).
 */
export function dumpInstructions(text: string): { all: number; compiler: number } {
  const names = new Map<string, string>();
  let compiling = false;
  let afterCall = false;
  let all = 0;
  let compiler = 0;
  for (const line of text.split('\n')) {
    const first = line.charCodeAt(0);
    if ((first >= 48 && first <= 57) || first === 43 || first === 45 || first === 42) {
      if (afterCall) {
        afterCall = false;
        continue;
      }
      const cost = Number(line.slice(line.indexOf(' ') + 1));
      all += cost;
      if (compiling) compiler += cost;
    } else if (line.startsWith('fn=')) {
      const named = /^fn=\((\d+)\)(?: (.*))?$/.exec(line);
      const name = named === null ? line.slice(3) : named[2] !== undefined ? (names.set(named[1]!, named[2]), named[2]) : (names.get(named[1]!) ?? '');
      compiling = /v8::internal::(compiler|maglev)::/.test(name);
    } else if (line.startsWith('cfn=')) {
      const named = /^cfn=\((\d+)\) (.*)$/.exec(line);
      if (named !== null) names.set(named[1]!, named[2]!);
    } else if (line.startsWith('calls=')) {
      afterCall = true;
    }
  }
  return { all, compiler };
}
