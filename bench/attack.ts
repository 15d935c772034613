// Runs one attack of bench/lib/attacks.ts in its own process (so its CPU is not the measuring
// client's) and prints its result as one JSON line.
// Usage: node bench/attack.ts --attack=h2-stream-flood|h2-rapid-reset|slow-uploads|slow-headers
//                             --port=P --servername=HOST [--host=127.0.0.1] [--from=127.0.0.2] [--seconds=10] [--count=N]
import { ATTACKS, type AttackName } from './lib/attacks.ts';

const argument = (name: string, fallback?: string): string => {
  const found = process.argv.find((value) => value.startsWith(`--${name}=`));
  const value = found ? found.slice(name.length + 3) : fallback;
  if (value === undefined) throw new Error(`--${name} is required`);
  return value;
};

const name = argument('attack') as AttackName;
const attack = ATTACKS[name];
if (!attack) throw new Error(`unknown attack ${name}: ${Object.keys(ATTACKS).join(', ')}`);
const count = process.argv.some((value) => value.startsWith('--count=')) ? Number(argument('count')) : undefined;
const outcome = await attack(
  { host: argument('host', '127.0.0.1'), port: Number(argument('port')), servername: argument('servername'), localAddress: argument('from', '127.0.0.2') },
  { seconds: Number(argument('seconds', '10')), ...(count === undefined ? {} : { count }) },
);
process.stdout.write(`${JSON.stringify(outcome)}\n`);
