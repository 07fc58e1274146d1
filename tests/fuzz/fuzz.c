/*
 * The harnesses' shared part: see fuzz.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"
#include "log.h"
#include "text.h"
#include "xmalloc.h"

/* The daemon's code logs; a harness's output is libFuzzer's and its findings. */
__attribute__((constructor)) static void
fuzz_quiet(void)
{
	log_set_level(LOG_CRIT);
}

void
fuzz_violated(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n%s:%d: property violated: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

uint8_t
fuzz_byte(struct fuzz_input *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

size_t
fuzz_choice(struct fuzz_input *in, size_t n)
{
	return fuzz_byte(in) % n;
}

uint32_t
fuzz_u32(struct fuzz_input *in)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = v << 8 | fuzz_byte(in);
	return v;
}

char *
fuzz_field(struct fuzz_input *in, char sep, size_t max, size_t *ret_len)
{
	const uint8_t *end = memchr(in->p, sep, in->n);
	size_t n = end != NULL ? (size_t)(end - in->p) : in->n;
	size_t keep = n < max ? n : max;
	char *s = xmalloc(keep + 1);

	memcpy(s, in->p, keep);
	s[keep] = '\0';
	if (end != NULL)
		n++;
	in->p += n;
	in->n -= n;
	if (ret_len != NULL)
		*ret_len = keep;
	return s;
}

char *
fuzz_rest(struct fuzz_input *in, size_t *ret_len)
{
	size_t n = in->n;
	char *s = xmalloc(n + 1);

	memcpy(s, in->p, n);
	s[n] = '\0';
	in->p += n;
	in->n = 0;
	if (ret_len != NULL)
		*ret_len = n;
	return s;
}

bool
fuzz_sanitized(const char *s)
{
	size_t len = strlen(s);
	char *again = text_sanitize(s, len, SIZE_MAX);
	bool same = strcmp(again, s) == 0;

	free(again);
	return same && text_utf8_valid(s, len);
}

bool
fuzz_trimmed(const char *s)
{
	size_t len = strlen(s);

	return len == 0 ||
	       (strchr(" \t\r\n", s[0]) == NULL && strchr(" \t\r\n", s[len - 1]) == NULL);
}

bool
fuzz_hex(const char *s, size_t len)
{
	return strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

const struct conf *
fuzz_conf(char *text)
{
	static char *last;
	static struct conf *conf;
	struct conf_errors errs = { 0 };

	if (last != NULL && strcmp(text, last) == 0) {
		free(text);
		return conf;
	}
	free(last);
	last = text;
	conf = conf_free(conf);
	if (conf_load_string("fuzz.conf", text, &conf, &errs, NULL) < 0)
		conf = NULL;
	conf_errors_clear(&errs);
	return conf;
}

static char fuzz_dir[256];

/* Removes the files in dir, then dir. */
static void
fuzz_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			(void)unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	(void)rmdir(dir);
}

static void
fuzz_tmpdir_remove(void)
{
	fuzz_remove_dir(fuzz_dir);
}

/*
 * The directories of this harness that processes which are gone left
 * (one that found something ends without its atexit handlers).
 */
static void
fuzz_tmpdir_sweep(const char *base, const char *name)
{
	char prefix[128], path[512];
	DIR *d = opendir(base);
	struct dirent *e;
	long pid;
	char *end;

	if (d == NULL)
		return;
	snprintf(prefix, sizeof(prefix), "fuzz-%s.", name);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		pid = strtol(e->d_name + strlen(prefix), &end, 10);
		if (*end != '\0' || pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
			snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
			fuzz_remove_dir(path);
		}
	}
	closedir(d);
}

const char *
fuzz_tmpdir(const char *name)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	fuzz_tmpdir_sweep(base, name);
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/fuzz-%s.%ld", base, name, (long)getpid());
	fuzz_remove_dir(fuzz_dir);
	if (mkdir(fuzz_dir, 0700) < 0) {
		perror(fuzz_dir);
		abort();
	}
	atexit(fuzz_tmpdir_remove);
	return fuzz_dir;
}

void
fuzz_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);

	if (fd < 0 || fchmod(fd, mode) < 0 || write(fd, data, len) != (ssize_t)len) {
		perror(path);
		abort();
	}
	close(fd);
}
