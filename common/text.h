/*
 * Checks on text that came from elsewhere (a peer, an upstream, a file) and
 * the safe copy to show a human: which bytes may go in a line or a header,
 * what an RFC 7230 token is, what valid UTF-8 is.
 */
#ifndef TB_TEXT_H
#define TB_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * No byte below 0x20 and no DEL (bytes from 0x80 pass, so UTF-8 does): fit
 * for one line of a file or an HTTP header value.
 */
bool text_printable(const char *s, size_t len);
/* As text_printable, but a horizontal tab is allowed: an HTTP field value. */
bool text_field_value(const char *s, size_t len);
/* An RFC 7230 tchar: a letter, a digit or one of !#$%&'*+-.^_`|~ */
bool text_tchar(char c);
/* An RFC 7230 token (a header name, an auth-scheme): one or more tchar. */
bool text_token(const char *s, size_t len);

/*
 * Decodes the UTF-8 sequence at the start of len bytes (len > 0) into *cp.
 * Returns its length, or 0 when it is not valid (overlong, a surrogate,
 * beyond U+10FFFF, cut short).
 */
size_t text_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);
/* Whether all len bytes are valid UTF-8. */
bool text_utf8_valid(const char *s, size_t len);

/*
 * A copy of len bytes of text (NULL is taken as empty) fit for a log line
 * or a terminal: invalid UTF-8 and characters that could break or reorder
 * a line (C0 and C1 controls, DEL, line and paragraph separators, bidi
 * controls) become '?'.  At most max bytes: a longer one is cut at a
 * character boundary and ends in "..." (when max is 4 or more).  Never
 * NULL; the caller frees.
 */
char *text_sanitize(const char *text, size_t len, size_t max);

#endif
