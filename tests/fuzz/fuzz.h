/*
 * What the libFuzzer harnesses of tests/fuzz/ share: taking an input apart
 * into the choices and strings a harness needs, and the checks of the
 * properties they assert.  A violated property aborts with a line naming
 * it, so libFuzzer keeps the input and reports it as a finding.
 */
#ifndef TB_FUZZ_H
#define TB_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The part of an input not yet taken. */
struct fuzz_input {
	const uint8_t *p;
	size_t n;
};

/* Aborts naming the property (a printf format) unless cond holds. */
#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_violated(__FILE__, __LINE__, #cond, __VA_ARGS__);                     \
	} while (0)

__attribute__((noreturn, format(printf, 4, 5))) void
fuzz_violated(const char *file, int line, const char *cond, const char *fmt, ...);

/* The next byte, 0 once the input is used up. */
uint8_t fuzz_byte(struct fuzz_input *in);
/* One of n choices, by the next byte. */
size_t fuzz_choice(struct fuzz_input *in, size_t n);
/* The next 4 bytes as a number (fewer at the end: 0 for what is missing). */
uint32_t fuzz_u32(struct fuzz_input *in);
/*
 * The bytes up to the next sep (which is taken too) or the end, at most
 * max of them, as a NUL-terminated copy (caller frees); *ret_len its
 * length when ret_len is not NULL.  The input need not hold a NUL.
 */
char *fuzz_field(struct fuzz_input *in, char sep, size_t max, size_t *ret_len);
/* What is left, as fuzz_field. */
char *fuzz_rest(struct fuzz_input *in, size_t *ret_len);

/*
 * s is what text_sanitize makes of it: valid UTF-8 without the characters
 * it replaces (controls, line separators, bidi controls).
 */
bool fuzz_sanitized(const char *s);
/* No blank (space, tab, CR, LF) at either end. */
bool fuzz_trimmed(const char *s);
/* len bytes of lowercase hex. */
bool fuzz_hex(const char *s, size_t len);

struct conf;
/*
 * The configuration text (taken) makes, loaded as conf_load_string loads
 * one; NULL when it is refused.  The last one is kept and loaded again
 * only for another text: what this returns is valid until the next call.
 */
const struct conf *fuzz_conf(char *text);

/*
 * A new directory for the files a harness writes, mode 0700, in /dev/shm
 * (a tmpfs: fsync is cheap there) or else /tmp, named by the harness and
 * the process; removed at exit with the files in it, or by the next run
 * when a finding ended this one first.  The path is static.
 */
const char *fuzz_tmpdir(const char *name);
/* Writes len bytes to path with mode; aborts when it cannot. */
void fuzz_write_file(const char *path, const void *data, size_t len, unsigned mode);

#endif
