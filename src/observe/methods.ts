// The request methods the metrics count by name and the access log has ready-made fields for; any
// other is `other` (a client inventing methods adds no label value).

export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'other'] as const;
export const OTHER_METHOD = METHODS.length - 1;

/**
 * A method's index in METHODS. Comparisons rather than a Map: the HTTP parsers hand over the
 * method as one of their interned constants, so each is a pointer comparison, with no hashing.
 */
export function methodIndex(method: string): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'POST':
      return 2;
    case 'PUT':
      return 3;
    case 'PATCH':
      return 4;
    case 'DELETE':
      return 5;
    case 'OPTIONS':
      return 6;
    default:
      return OTHER_METHOD;
  }
}
