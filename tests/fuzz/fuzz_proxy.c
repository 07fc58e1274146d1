/*
 * The proxy's rewriting of a request on its way upstream and of its
 * answer's headers on their way back (proxy.c's pure part: proxy_host_ok,
 * proxy_target_problem, proxy_upstream_url, proxy_upstream_headers,
 * proxy_response_headers).  The input, line by line: a byte choosing the
 * upstream's scheme and host, the injected header and inject; the path of
 * the upstream (a [proxy] section with it is loaded as the daemon loads
 * one, and an input whose section it refuses is skipped); the request
 * target; a Host header; then header lines as a client sends them, split
 * at the first ':' as evhttp splits them.
 *
 * Properties: Host is taken exactly when it is a loopback name, with the
 * listener's port or none; a target with a "." or ".." segment (also
 * percent-encoded), a space, a control character or a fragment is
 * refused, with a printable reason; the URL a taken target goes to, read
 * by libcurl's URL parser as a transfer reads it, has the upstream's host
 * and a path that starts with the upstream's and has no dot segment after
 * it.  The headers that go upstream are the client's, in their order,
 * less every hop-by-hop one (the fixed ones, Proxy-*, and each named by
 * any Connection header), Host, Content-Length, Expect and, with inject =
 * replace, the injected one; no line holds a line break.  The same
 * headers in an upstream's answer come back, in their order, less the
 * hop-by-hop ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <curl/curl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "conf.h"
#include "fuzz.h"
#include "http.h"
#include "proxy.h"
#include "text.h"
#include "xmalloc.h"

static const char *const hosts[] = {
	"https://api.example.com",
	"http://127.0.0.1:8080",
	"https://[::1]:8443",
	"http://localhost",
};
static const char *const headers[] = { "Authorization", "X-Api-Key", "Proxy-Authorization",
				       "Expect" };
static const char *const listens[] = { "127.0.0.1:8081", "[::1]:80" };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static void
check_host(const struct proxy_conf *pc, const char *host)
{
	char port[8], listen[64];
	const char *names[] = { "localhost", "127.0.0.1", "[::1]", listen };
	bool want = false;

	snprintf(port, sizeof(port), "%u", (unsigned)pc->listen_port);
	snprintf(listen, sizeof(listen), strchr(pc->listen_host, ':') != NULL ? "[%s]" : "%s",
		 pc->listen_host);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);

		if (strncasecmp(host, names[i], n) == 0 &&
		    (host[n] == '\0' || (host[n] == ':' && strcmp(host + n + 1, port) == 0)))
			want = true;
	}
	FUZZ_CHECK(proxy_host_ok(pc, host) == want, "Host %s", want ? "refused" : "taken");
}

/* Whether the n bytes at s are "." or "..", each dot plain or as %2e. */
static bool
dot_segment(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; k++) {
		if (k == 2)
			return false;
		if (s[i] == '.') {
			i++;
		} else if (n - i >= 3 && strncasecmp(s + i, "%2e", 3) == 0) {
			i += 3;
		} else {
			return false;
		}
	}
	return k == 1 || k == 2;
}

/* Whether the path (up to a '?' or the end) from s on has a dot segment. */
static bool
has_dot_segment(const char *s)
{
	size_t end = strcspn(s, "?");

	for (size_t i = 0; i < end;) {
		size_t n = strcspn(s + i, "/?");

		if (i + n > end)
			n = end - i;
		if (dot_segment(s + i, n))
			return true;
		i += n + 1;
	}
	return false;
}

/* libcurl's reading of url: 0 with its host and path (curl_free them), as a transfer reads it. */
static int
curl_parts(const char *url, char **host, char **path)
{
	CURLU *u = curl_url();
	CURLUcode rc;

	rc = curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME);
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_HOST, host, 0);
	if (rc == CURLUE_OK && curl_url_get(u, CURLUPART_PATH, path, 0) != CURLUE_OK) {
		curl_free(*host);
		rc = CURLUE_BAD_PATH;
	}
	curl_url_cleanup(u);
	return rc == CURLUE_OK ? 0 : -1;
}

static void
check_target(const struct proxy_conf *pc, const char *target)
{
	const char *why = proxy_target_problem(target);
	char *url, *host = NULL, *path = NULL, *base_host = NULL, *base_path = NULL;
	size_t base_len;

	if (target[0] != '/' || strchr(target, '#') != NULL || has_dot_segment(target))
		FUZZ_CHECK(why != NULL, "a target that leaves the upstream's path taken");
	for (const char *p = target; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			FUZZ_CHECK(why != NULL, "a target with a space or control character taken");
	if (why != NULL) {
		FUZZ_CHECK(why[0] != '\0' && text_printable(why, strlen(why)),
			   "an unprintable reason");
		return;
	}
	FUZZ_CHECK(curl_parts(pc->upstream, &base_host, &base_path) == 0,
		   "libcurl cannot read the upstream");
	url = proxy_upstream_url(pc, target);
	FUZZ_CHECK(strncmp(url, pc->upstream, strlen(pc->upstream)) == 0,
		   "the URL does not start with the upstream");
	if (curl_parts(url, &host, &path) == 0) {
		/* libcurl gives "/" for no path; the upstream's then ends before it */
		base_len = strlen(base_path);
		if (base_len > 0 && base_path[base_len - 1] == '/')
			base_len--;
		FUZZ_CHECK(strcmp(host, base_host) == 0, "the request goes to another host");
		FUZZ_CHECK(strncmp(path, base_path, base_len) == 0 &&
				   (path[base_len] == '/' || path[base_len] == '\0'),
			   "the path does not start with the upstream's");
		FUZZ_CHECK(!has_dot_segment(path + base_len), "a dot segment goes upstream");
		curl_free(host);
		curl_free(path);
	}
	curl_free(base_host);
	curl_free(base_path);
	free(url);
}

/* The names the Connection headers of in list (caller frees each and the array). */
static char **
connection_names(const struct evkeyvalq *in, size_t *ret_n)
{
	const struct evkeyval *kv;
	char **names = NULL;
	size_t n = 0;

	TAILQ_FOREACH(kv, in, next)
	{
		if (strcasecmp(kv->key, "Connection") != 0)
			continue;
		for (const char *s = kv->value; *s != '\0';) {
			size_t len;

			s += strspn(s, ", \t");
			len = strcspn(s, ", \t");
			if (len > 0) {
				names = xreallocarray(names, n + 1, sizeof(*names));
				names[n++] = xstrndup(s, len);
			}
			s += len;
		}
	}
	*ret_n = n;
	return names;
}

static void
names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Whether a header of that name is hop-by-hop, by the rules spelled out again. */
static bool
hop_by_hop(const char *name, char **names, size_t nnames)
{
	static const char *const fixed[] = { "Connection", "Keep-Alive",	"TE",
					     "Trailer",	   "Transfer-Encoding", "Upgrade" };

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcasecmp(name, fixed[i]) == 0)
			return true;
	for (size_t i = 0; i < nnames; i++)
		if (strcasecmp(name, names[i]) == 0)
			return true;
	return strncasecmp(name, "Proxy-", 6) == 0;
}

/* Whether a client's header of that name goes upstream. */
static bool
forwarded(const struct proxy_conf *pc, const char *name, char **names, size_t nnames)
{
	if (hop_by_hop(name, names, nnames) || strcasecmp(name, "Host") == 0 ||
	    strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Expect") == 0)
		return false;
	return pc->inject != PROXY_INJECT_REPLACE || strcasecmp(name, pc->header) != 0;
}

static void
check_headers(const struct proxy_conf *pc, const struct evkeyvalq *in)
{
	size_t nnames = 0, n = 0, i = 0;
	char **names = connection_names(in, &nnames);
	const struct evkeyval *kv;
	char **lines = proxy_upstream_headers(pc, in, &n), *want;

	TAILQ_FOREACH(kv, in, next)
	{
		if (!forwarded(pc, kv->key, names, nnames))
			continue;
		FUZZ_CHECK(i < n, "header %s left out", kv->key);
		want = kv->value[0] != '\0' ? xasprintf("%s: %s", kv->key, kv->value)
					    : xasprintf("%s;", kv->key);
		FUZZ_CHECK(strcmp(lines[i], want) == 0, "header %zu is \"%s\", not \"%s\"", i,
			   lines[i], want);
		FUZZ_CHECK(strpbrk(lines[i], "\r\n") == NULL, "a line break in a header line");
		free(want);
		i++;
	}
	FUZZ_CHECK(i == n, "%zu headers go upstream, not %zu", n, i);
	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	names_free(names, nnames);
}

/* The same headers as an upstream's answer: all but the hop-by-hop ones come back. */
static void
check_response_headers(const struct evkeyvalq *in)
{
	size_t nnames = 0, n = 0;
	char **names = connection_names(in, &nnames);
	struct http_header *h;
	const struct evkeyval *kv, *o;
	struct evkeyvalq out;

	TAILQ_FOREACH(kv, in, next)
	n++;
	h = xcalloc(n > 0 ? n : 1, sizeof(*h));
	n = 0;
	TAILQ_FOREACH(kv, in, next)
	{
		h[n].name = kv->key;
		h[n++].value = kv->value;
	}
	TAILQ_INIT(&out);
	proxy_response_headers(h, n, &out);
	o = TAILQ_FIRST(&out);
	TAILQ_FOREACH(kv, in, next)
	{
		if (hop_by_hop(kv->key, names, nnames))
			continue;
		FUZZ_CHECK(o != NULL && strcmp(o->key, kv->key) == 0 &&
				   strcmp(o->value, kv->value) == 0,
			   "the upstream's header %s does not come back as it was", kv->key);
		o = TAILQ_NEXT(o, next);
	}
	FUZZ_CHECK(o == NULL, "a hop-by-hop header %s comes back", o->key);
	evhttp_clear_headers(&out);
	free(h);
	names_free(names, nnames);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t b = fuzz_byte(&in);
	char *upath, *target, *host, *line, *value;
	const struct proxy_conf *pc;
	const struct conf *conf;
	struct evkeyvalq hdrs;
	size_t len;

	upath = fuzz_field(&in, '\n', 256, NULL);
	if (upath[0] != '\0' && upath[0] != '/') {
		free(upath); /* a path, not more of the host */
		return 0;
	}
	conf = fuzz_conf(xasprintf("[credential \"c\"]\n"
				   "token_url = https://idp.example.com/token\n"
				   "auth_method = none\n"
				   "[proxy \"p\"]\n"
				   "listen = %s\n"
				   "credential = c\n"
				   "upstream = %s%s\n"
				   "header = %s\n"
				   "inject = %s\n",
				   listens[(b >> 5) & 1], hosts[b & 3], upath,
				   headers[(b >> 2) & 3], (b >> 4) & 1 ? "if-absent" : "replace"));
	free(upath);
	if (conf == NULL)
		return 0;
	pc = conf->proxies[0];

	target = fuzz_field(&in, '\n', 4096, &len);
	if (strchr(target, '\r') == NULL)
		check_target(pc, target);
	free(target);
	host = fuzz_field(&in, '\n', 256, NULL);
	check_host(pc, host);
	free(host);

	TAILQ_INIT(&hdrs);
	while (in.n > 0) {
		line = fuzz_field(&in, '\n', 1024, NULL);
		value = strchr(line, ':');
		if (value != NULL && value != line) {
			*value++ = '\0';
			value += strspn(value, " ");
			len = strlen(value);
			while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
				value[--len] = '\0';
			(void)evhttp_add_header(&hdrs, line, value); /* refuses a CR */
		}
		free(line);
	}
	check_headers(pc, &hdrs);
	check_response_headers(&hdrs);
	evhttp_clear_headers(&hdrs);
	return 0;
}
