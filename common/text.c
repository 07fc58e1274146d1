/*
 * What counts as printable, as an RFC 7230 token, as valid UTF-8, and the
 * sanitized copy that is safe to print: one definition for the daemon (its
 * logs, headers, files) and the client (the terminal).
 */
#include <string.h>

#include "text.h"
#include "xmalloc.h"

bool
text_printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

bool
text_field_value(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

bool
text_tchar(char c)
{
	/* Not isalnum(): the locale must not widen what a header may hold. */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool
text_token(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!text_tchar(s[i]))
			return false;
	return true;
}

size_t
text_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t n;
	uint32_t c = s[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

bool
text_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t cp;
	size_t n;

	for (size_t i = 0; i < len; i += n)
		if ((n = text_utf8_decode(u + i, len - i, &cp)) == 0)
			return false;
	return true;
}

/* Characters that could rearrange or break a line on a terminal or in a log. */
static bool
text_cp_control(uint32_t c)
{
	return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029 ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/*
 * Whether the character at the start of len bytes is kept as it is (rather
 * than shown as '?'); its length in the input goes to *ret_in.
 */
static bool
text_sanitize_keeps(const unsigned char *s, size_t len, size_t *ret_in)
{
	uint32_t cp;
	size_t n = text_utf8_decode(s, len, &cp);

	*ret_in = n == 0 ? 1 : n;
	return n != 0 && !text_cp_control(cp);
}

char *
text_sanitize(const char *text, size_t len, size_t max)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i, n, total = 0, limit, o = 0;
	bool keep, cut;
	char *out;

	if (text == NULL)
		len = 0;
	/* Each input byte yields at most one output byte. */
	for (i = 0; i < len; i += n)
		total += text_sanitize_keeps(s + i, len - i, &n) ? n : 1;
	cut = total > max;
	limit = cut ? (max >= 4 ? max - 3 : max) : total;
	out = xmalloc(limit + 4);
	for (i = 0; i < len; i += n) {
		keep = text_sanitize_keeps(s + i, len - i, &n);
		if (o + (keep ? n : 1) > limit)
			break;
		if (keep) {
			memcpy(out + o, s + i, n);
			o += n;
		} else {
			out[o++] = '?';
		}
	}
	if (cut && max >= 4) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}
