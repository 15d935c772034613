// HTTP/1.1 syntax shared by the upstream client's request heads and its response parser (pure).

/** A token (RFC 9110 5.6.2): methods and field names. */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Any character a field value may not hold: only HTAB, SP, visible ASCII and obs-text are allowed (RFC 9110 5.5). */
export const INVALID_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
