// --query: JMESPath, compiled (checked) once per command before the handler runs, then applied.
import jmespath from 'jmespath';
import { CliError } from '../errors.ts';
import { toJson } from './json-model.ts';
import type { Json } from './json-model.ts';

const QUERY_HELP = "To learn more about --query, please visit: 'https://learn.microsoft.com/cli/azure/query-azure-cli'";

/** A JMESPath expression that compiled: what renderOutput applies without checking it again. */
export interface CompiledQuery {
  readonly expression: string;
}

/**
 * Checks that `expression` is JMESPath, as az does while parsing arguments: a CliError of kind
 * 'usage' (exit code 2) with az's message otherwise.
 */
export function compileQuery(expression: string): CompiledQuery {
  try {
    (jmespath as unknown as { compile(expression: string): unknown }).compile(expression);
  } catch {
    throw new CliError(`argument --query: invalid jmespath_type value: '${expression}'`, {
      kind: 'usage',
      recommendation: QUERY_HELP,
    });
  }
  return Object.freeze({ expression });
}

/** Runs a JMESPath query; a failure while evaluating is a generic error (exit code 1), as in az. */
export function applyQuery(value: unknown, expression: string): unknown {
  return search(toJson(value), compileQuery(expression));
}

/**
 * Searches `input` itself, not a copy: tsv tells the objects a query built from those it returned.
 * (jmespath's API evaluates only from text, so it parses the expression once more inside search.)
 */
export function search(input: Json, query: CompiledQuery): Json {
  try {
    return jmespath.search(input, query.expression) as Json;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliError(`Invalid jmespath query supplied for \`--query\`: ${reason}`, { recommendation: QUERY_HELP });
  }
}
