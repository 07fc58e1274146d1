/*
 * The token endpoint's answer: JSON (through json.c) or XML (libxml2, no
 * entities, no network), the token and its lifetime out of it, or an error
 * a person can act on; a JWT's exp is read in response-jwt.c.  Error text
 * from the body is sanitized and capped; neither the token nor the body
 * itself ever goes into a message.
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlmemory.h>
#include <libxml/xpath.h>

#include "cleanup.h"
#include "json.h"
#include "response-int.h"
#include "response.h"
#include "timeutil.h"
#include "xmalloc.h"

/* Longest lifetime believed: ten years. */
#define RESPONSE_LIFETIME_MAX_S (10 * 36525LL * 864) /* 10 * 365.25 days in seconds */

enum response_fmt {
	FMT_UNKNOWN,
	FMT_JSON,
	FMT_XML,
	FMT_HTML, /* by Content-Type only: never sniffed as XML */
};

enum response_kind {
	RV_NONE, /* absent (or JSON null) */
	RV_STRING,
	RV_NUMBER,
	RV_OTHER, /* bool, object, array */
};

/* A value found at a path; text is wiped when freed. */
struct response_value {
	enum response_kind kind;
	char *text;
	size_t len;
};

struct response_doc {
	enum response_fmt fmt;
	struct json *json;
	xmlDocPtr xml;
	xmlXPathContextPtr xpath;
};

/* What an error envelope said, sanitized. */
struct response_env {
	char *code;
	char *desc;
	char *hint;
	bool code_last;	 /* Xvid: "description (code)" */
	bool code_is_error; /* code goes to response_error.error */
	bool error_key;	 /* the body has an "error" member: a failure even on 2xx */
};

/* libxml2's global state, saved around each use. */
struct response_xml_saved {
	xmlStructuredErrorFunc serror;
	void *sctx;
	xmlGenericErrorFunc gerror;
	void *gctx;
	xmlExternalEntityLoader loader;
};

static void
response_wipe_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

static void
response_value_clear(struct response_value *v)
{
	if (v->text != NULL)
		secret_free_buf(v->text, v->len + 1);
	v->text = NULL;
	v->len = 0;
	v->kind = RV_NONE;
}

/*
 * Decodes one UTF-8 sequence at s; returns its length, or 0 when it is not
 * valid (overlong, surrogate, beyond U+10FFFF, cut short).
 */
static size_t
response_utf8(const unsigned char *s, size_t len, uint32_t *cp)
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

/* Characters that could rearrange or break a log line. */
static bool
response_cp_control(uint32_t c)
{
	return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029 ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

char *
response_sanitize(const char *text, size_t len, size_t max)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i, n, total = 0, limit, o = 0;
	uint32_t cp;
	bool cut;
	char *out;

	if (text == NULL)
		len = 0;
	/* Each input byte yields at most one output byte. */
	for (i = 0; i < len; i += n) {
		n = response_utf8(s + i, len - i, &cp);
		if (n == 0 || response_cp_control(cp)) {
			n = n == 0 ? 1 : n;
			total++;
		} else {
			total += n;
		}
	}
	cut = total > max;
	limit = cut ? (max >= 4 ? max - 3 : max) : total;
	out = xmalloc(limit + 4);
	for (i = 0; i < len; i += n) {
		n = response_utf8(s + i, len - i, &cp);
		if (n == 0 || response_cp_control(cp)) {
			n = n == 0 ? 1 : n;
			if (o + 1 > limit)
				break;
			out[o++] = '?';
		} else {
			if (o + n > limit)
				break;
			memcpy(out + o, s + i, n);
			o += n;
		}
	}
	if (cut && max >= 4) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static bool
response_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Sanitized text with surrounding blanks dropped; NULL when nothing is left. */
static char *
response_text(const char *s, size_t len)
{
	while (len > 0 && response_blank(*s)) {
		s++;
		len--;
	}
	while (len > 0 && response_blank(s[len - 1]))
		len--;
	if (len == 0)
		return NULL;
	return response_sanitize(s, len, RESPONSE_TEXT_MAX);
}

/*
 * A decimal number as JSON writes it (sign, digits, fraction, exponent),
 * nothing else: no hex, no "inf", no blanks.
 */
bool
response_number(const char *s, size_t len, double *ret)
{
	size_t i = 0, d;
	char buf[64];

	if (len == 0 || len >= sizeof(buf))
		return false;
	if (s[i] == '-' || s[i] == '+')
		i++;
	for (d = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		d++;
	if (d == 0)
		return false;
	if (i < len && s[i] == '.') {
		i++;
		for (d = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (d == 0)
			return false;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		for (d = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (d == 0)
			return false;
	}
	if (i != len)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	*ret = strtod(buf, NULL);
	return isfinite(*ret);
}

/* ---- libxml2 ---- */

static void
response_xml_free_cb(void *p)
{
	response_wipe_free(p);
}

static void *
response_xml_malloc_cb(size_t size)
{
	return xmalloc(size == 0 ? 1 : size);
}

static void *
response_xml_realloc_cb(void *p, size_t size)
{
	size_t old;
	void *n;

	n = xmalloc(size == 0 ? 1 : size);
	if (p != NULL) {
		old = malloc_usable_size(p);
		memcpy(n, p, old < size ? old : size);
		response_wipe_free(p);
	}
	return n;
}

static char *
response_xml_strdup_cb(const char *s)
{
	return xstrdup(s);
}

static void
response_xml_serror_cb(void *ctx, xmlErrorPtr e)
{
}

static void
response_xml_gerror_cb(void *ctx, const char *fmt, ...)
{
}

/* No external entity, DTD or XInclude is ever loaded, from anywhere. */
static xmlParserInputPtr
response_xml_noload_cb(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	return NULL;
}

/*
 * Points libxml2 at allocators that wipe (the document holds the token) the
 * first time it is used: they are plain malloc underneath, so blocks from
 * before are freed correctly too.
 */
static void
response_xml_init(void)
{
	static bool done;

	if (done)
		return;
	xmlMemSetup(response_xml_free_cb, response_xml_malloc_cb, response_xml_realloc_cb,
		    response_xml_strdup_cb);
	xmlInitParser();
	done = true;
}

/* Silences libxml2's error output and entity loading until the matching end. */
static void
response_xml_begin(struct response_xml_saved *sv)
{
	response_xml_init();
	sv->serror = xmlStructuredError;
	sv->sctx = xmlStructuredErrorContext;
	sv->gerror = xmlGenericError;
	sv->gctx = xmlGenericErrorContext;
	sv->loader = xmlGetExternalEntityLoader();
	xmlSetStructuredErrorFunc(NULL, response_xml_serror_cb);
	xmlSetGenericErrorFunc(NULL, response_xml_gerror_cb);
	xmlSetExternalEntityLoader(response_xml_noload_cb);
}

static void
response_xml_end(struct response_xml_saved *sv)
{
	xmlSetStructuredErrorFunc(sv->sctx, sv->serror);
	xmlSetGenericErrorFunc(sv->gctx, sv->gerror);
	xmlSetExternalEntityLoader(sv->loader);
	xmlResetLastError();
}

/*
 * Parses XML without entity substitution, DTD loading or network access.
 * A document that declares entities is refused outright.  Returns 0, or
 * -EINVAL with *cause (no text from the body in it).
 */
static int
response_xml_parse(const char *body, size_t len, struct response_doc *doc, char **cause)
{
	xmlErrorPtr e;
	xmlDtdPtr dtd;

	xmlResetLastError();
	doc->xml = xmlReadMemory(body, (int)len, NULL, NULL,
				 XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc->xml == NULL) {
		e = xmlGetLastError();
		if (e != NULL && e->line > 0)
			*cause = xasprintf("parse error at line %d", e->line);
		else
			*cause = xstrdup("parse error");
		return -EINVAL;
	}
	/*
	 * Nothing was expanded or loaded, but a token taken from a document
	 * that declares entities, or names a DTD that might, could be partial.
	 */
	dtd = doc->xml->intSubset;
	if (dtd != NULL && (dtd->entities != NULL || dtd->pentities != NULL)) {
		*cause = xstrdup("entity declarations refused");
		return -EINVAL;
	}
	if ((dtd != NULL && (dtd->SystemID != NULL || dtd->ExternalID != NULL)) ||
	    doc->xml->extSubset != NULL) {
		*cause = xstrdup("external DTD refused");
		return -EINVAL;
	}
	doc->xpath = xmlXPathNewContext(doc->xml);
	if (doc->xpath == NULL) {
		*cause = xstrdup("cannot evaluate XPath");
		return -ENOMEM;
	}
	return 0;
}

/* The string value of an XPath result, blanks trimmed (XML indents). */
static int
response_xml_value(struct response_doc *doc, const char *path, struct response_value *ret)
{
	xmlXPathObjectPtr obj;
	xmlChar *s;
	const char *p;
	size_t n;

	memset(ret, 0, sizeof(*ret));
	obj = xmlXPathEvalExpression((const xmlChar *)path, doc->xpath);
	if (obj == NULL)
		return -EINVAL;
	switch (obj->type) {
	case XPATH_NODESET:
		if (obj->nodesetval == NULL || obj->nodesetval->nodeNr == 0) {
			xmlXPathFreeObject(obj);
			return 0;
		}
		break;
	case XPATH_NUMBER:
		if (isnan(obj->floatval)) {
			xmlXPathFreeObject(obj);
			return 0;
		}
		break;
	case XPATH_STRING:
		break;
	default:
		xmlXPathFreeObject(obj);
		ret->kind = RV_OTHER;
		return 0;
	}
	s = xmlXPathCastToString(obj);
	xmlXPathFreeObject(obj);
	if (s == NULL)
		return -ENOMEM;
	p = (const char *)s;
	n = strlen(p);
	while (n > 0 && response_blank(*p)) {
		p++;
		n--;
	}
	while (n > 0 && response_blank(p[n - 1]))
		n--;
	ret->kind = RV_STRING;
	ret->text = xstrndup(p, n);
	ret->len = n;
	xmlFree(s);
	return 0;
}

/*
 * The value at path: a JSON Pointer for JSON, an XPath for XML.  Returns 0
 * (kind RV_NONE when absent) or -EINVAL when path is not valid.
 */
static int
response_value(struct response_doc *doc, const char *path, struct response_value *ret)
{
	const struct json *j;

	memset(ret, 0, sizeof(*ret));
	if (doc->fmt == FMT_XML)
		return response_xml_value(doc, path, ret);
	if (!json_pointer_valid(path))
		return -EINVAL;
	j = json_pointer(doc->json, path);
	if (j == NULL || j->type == JSON_NULL)
		return 0;
	if (j->type == JSON_STRING || j->type == JSON_NUMBER) {
		ret->kind = j->type == JSON_STRING ? RV_STRING : RV_NUMBER;
		ret->text = xmalloc(j->len + 1);
		memcpy(ret->text, j->text, j->len);
		ret->text[j->len] = '\0';
		ret->len = j->len;
	} else {
		ret->kind = RV_OTHER;
	}
	return 0;
}

static void
response_doc_clear(struct response_doc *doc)
{
	if (doc->xpath != NULL)
		xmlXPathFreeContext(doc->xpath);
	if (doc->xml != NULL)
		xmlFreeDoc(doc->xml);
	json_free(doc->json);
	memset(doc, 0, sizeof(*doc));
}

/* ---- error envelopes ---- */

/* A JSON string or number as sanitized text, or NULL. */
static char *
response_json_text(const struct json *j)
{
	if (j == NULL || (j->type != JSON_STRING && j->type != JSON_NUMBER))
		return NULL;
	return response_text(j->text, j->len);
}

static void
response_env_clear(struct response_env *env)
{
	free(env->code);
	free(env->desc);
	free(env->hint);
	memset(env, 0, sizeof(*env));
}

/*
 * The error envelopes of JSON token endpoints, tried in order: RFC 6749
 * 5.2, Xibo 2.x, Xvid, then a top-level "message" (or RFC 7807 "detail").
 */
static void
response_json_env(const struct json *root, struct response_env *env)
{
	const struct json *e = json_get(root, "error");

	if (e != NULL && e->type == JSON_STRING && e->len > 0) {
		env->error_key = true;
		env->code_is_error = true;
		env->code = response_json_text(e);
		env->desc = response_json_text(json_get(root, "error_description"));
		env->hint = response_json_text(json_get(root, "hint"));
		if (env->desc == NULL)
			env->desc = response_json_text(json_get(root, "message"));
		return;
	}
	if (e != NULL && e->type == JSON_OBJECT) {
		env->error_key = true;
		if (json_get(e, "error_code") != NULL || json_get(e, "error_message") != NULL) {
			env->code = response_json_text(json_get(e, "error_code"));
			env->desc = response_json_text(json_get(e, "error_message"));
			env->code_last = true;
			env->code_is_error = true;
		} else {
			/* Xibo 2.x: code repeats the HTTP status. */
			env->desc = response_json_text(json_get(e, "message"));
		}
		if (env->code != NULL || env->desc != NULL)
			return;
	}
	if (e != NULL && e->type == JSON_BOOL && e->boolean)
		env->error_key = true;
	env->desc = response_json_text(json_get(root, "message"));
	if (env->desc == NULL)
		env->desc = response_json_text(json_get(root, "detail"));
	if (env->desc == NULL)
		env->desc = response_json_text(json_get(root, "title"));
}

/* Appends the non-blank text of n's leaves to b, parts joined by ": ". */
static void
response_xml_leaves(xmlNodePtr n, char **b)
{
	xmlChar *s;
	char *t, *joined;

	for (xmlNodePtr c = n->children; c != NULL; c = c->next) {
		if (c->type == XML_ELEMENT_NODE) {
			response_xml_leaves(c, b);
			continue;
		}
		if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
			continue;
		s = xmlNodeGetContent(c);
		if (s == NULL)
			continue;
		t = response_text((const char *)s, strlen((const char *)s));
		xmlFree(s);
		if (t == NULL)
			continue;
		if (*b == NULL) {
			*b = t;
			continue;
		}
		joined = xasprintf("%s: %s", *b, t);
		free(*b);
		free(t);
		*b = joined;
	}
}

/*
 * XML: the text under <messages> (Oracle SBC: <error><reasonCode/>
 * <reasonText/></error>), each message's parts joined by ": ", messages by
 * "; ", else <error>/<error_description> under the root.
 */
static void
response_xml_env(struct response_doc *doc, struct response_env *env)
{
	xmlXPathObjectPtr obj;
	xmlNodeSetPtr set;
	struct response_value v = { 0 };
	char *all = NULL, *one, *joined, *capped;

	obj = xmlXPathEvalExpression((const xmlChar *)"//*[local-name()='messages']/node()",
				     doc->xpath);
	set = obj != NULL && obj->type == XPATH_NODESET ? obj->nodesetval : NULL;
	for (int i = 0; set != NULL && i < set->nodeNr; i++) {
		xmlNodePtr n = set->nodeTab[i];

		one = NULL;
		if (n->type == XML_ELEMENT_NODE) {
			if (xmlStrcasecmp(n->name, (const xmlChar *)"error") == 0)
				env->error_key = true;
			response_xml_leaves(n, &one);
		} else if (n->type == XML_TEXT_NODE) {
			xmlChar *s = xmlNodeGetContent(n);

			if (s != NULL)
				one = response_text((const char *)s, strlen((const char *)s));
			xmlFree(s);
		}
		if (one == NULL)
			continue;
		if (all == NULL) {
			all = one;
			continue;
		}
		joined = xasprintf("%s; %s", all, one);
		free(all);
		free(one);
		all = joined;
	}
	if (obj != NULL)
		xmlXPathFreeObject(obj);
	if (all != NULL) {
		capped = response_sanitize(all, strlen(all), RESPONSE_TEXT_MAX);
		free(all);
		env->desc = capped;
		return;
	}
	if (response_xml_value(doc, "/*/error", &v) == 0 && v.kind == RV_STRING && v.len > 0) {
		env->error_key = true;
		env->code_is_error = true;
		env->code = response_text(v.text, v.len);
		response_value_clear(&v);
		if (response_xml_value(doc, "/*/error_description", &v) == 0 && v.kind == RV_STRING)
			env->desc = response_text(v.text, v.len);
	}
	response_value_clear(&v);
}

/* "code: description (hint: ...)" or the parts there are; NULL if none. */
static char *
response_env_text(const struct response_env *env)
{
	char *s, *h;

	if (env->code != NULL && env->desc != NULL)
		s = env->code_last ? xasprintf("%s (%s)", env->desc, env->code) :
				     xasprintf("%s: %s", env->code, env->desc);
	else if (env->code != NULL)
		s = xstrdup(env->code);
	else if (env->desc != NULL)
		s = xstrdup(env->desc);
	else
		return NULL;
	if (env->hint != NULL) {
		h = xasprintf("%s (hint: %s)", s, env->hint);
		free(s);
		s = h;
	}
	return s;
}

static bool
response_code_in(const char *code, const char *const *codes)
{
	if (code == NULL)
		return false;
	for (; *codes != NULL; codes++) {
		if (strcasecmp(code, *codes) == 0)
			return true;
	}
	return false;
}

static bool
response_auth_code(const char *code)
{
	static const char *const codes[] = { "invalid_client", "unauthorized_client",
					     "invalid_grant", "access_denied", NULL };

	return response_code_in(code, codes);
}

/*
 * Whether sending the same request again can succeed.  A 4xx says the
 * request is wrong, except 408 (timeout), 425 (too early) and 429 (too
 * many); RFC 6749 5.2 and 8693 codes that name the request are wrong
 * whatever the status they come with.
 */
static bool
response_permanent(long status, const char *code, bool auth_failed)
{
	static const char *const codes[] = { "invalid_request", "invalid_scope",
					     "unsupported_grant_type", "invalid_target",
					     "unsupported_token_type", NULL };

	if (auth_failed || response_code_in(code, codes))
		return true;
	return status >= 400 && status <= 499 && status != 408 && status != 425 && status != 429;
}

/* ---- the answer ---- */

static bool
response_2xx(long status)
{
	return status >= 200 && status <= 299;
}

/* The media type of a Content-Type, lower-cased and sanitized; or NULL. */
static char *
response_media_type(const char *ct)
{
	char *t;
	size_t n;

	if (ct == NULL)
		return NULL;
	ct += strspn(ct, " \t");
	n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	if (n == 0)
		return NULL;
	t = response_sanitize(ct, n, 64);
	for (char *p = t; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return t;
}

static bool
response_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static enum response_fmt
response_detect(enum response_format want, const char *mt, const char *body, size_t len)
{
	size_t i = 0;

	if (want == RESPONSE_FORMAT_JSON)
		return FMT_JSON;
	if (want == RESPONSE_FORMAT_XML)
		return FMT_XML;
	if (mt != NULL) {
		if (strcmp(mt, "application/json") == 0 || response_suffix(mt, "+json"))
			return FMT_JSON;
		if (strcmp(mt, "application/xml") == 0 || strcmp(mt, "text/xml") == 0 ||
		    response_suffix(mt, "+xml"))
			return FMT_XML;
	}
	if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && response_blank(body[i]))
		i++;
	if (i < len && body[i] == '{')
		return FMT_JSON;
	if (i < len && body[i] == '<')
		return mt != NULL && strcmp(mt, "text/html") == 0 ? FMT_HTML : FMT_XML;
	return FMT_UNKNOWN;
}

/* Fills err; message and the other strings become err's. */
static int
response_fail(struct response_error *err, long status, char *message)
{
	err->http_status = status;
	err->message = message;
	if (status == 401 || response_auth_code(err->error))
		err->auth_failed = true;
	err->permanent = response_permanent(status, err->error, err->auth_failed);
	return -EINVAL;
}

/* "(text/html, 1234 bytes)": a body described, never quoted. */
static char *
response_describe(const char *mt, size_t len)
{
	return xasprintf("(%s, %zu bytes)", mt != NULL ? mt : "no Content-Type", len);
}

/*
 * Seconds from a JSON number or a numeric string; 0 and *ret_ms (> 0 and
 * at most ten years), else -EINVAL with *why.
 */
static int
response_seconds(const struct response_value *v, bool absolute, int64_t now_ms, int64_t *ret_ms,
		 const char **why)
{
	double s;
	int64_t ms;

	if (v->kind != RV_NUMBER && v->kind != RV_STRING) {
		*why = "not a number";
		return -EINVAL;
	}
	if (!response_number(v->text, v->len, &s)) {
		*why = "not a number";
		return -EINVAL;
	}
	if (absolute) {
		if (s <= 0 || s > 1e11) {
			*why = "out of range";
			return -EINVAL;
		}
		ms = (int64_t)(s * 1000 + 0.5) - now_ms;
	} else {
		if (s <= 0 || s > (double)RESPONSE_LIFETIME_MAX_S) {
			*why = "out of range";
			return -EINVAL;
		}
		ms = (int64_t)(s * 1000 + 0.5);
	}
	*ret_ms = ms;
	return 0;
}

static void
response_found(char **found, const char *what, const char *path)
{
	char *s;

	if (*found == NULL) {
		*found = xasprintf("%s at %s", what, path);
		return;
	}
	s = xasprintf("%s, %s at %s", *found, what, path);
	free(*found);
	*found = s;
}

/* A path that is configured: NULL means the default, "" means not wanted. */
static const char *
response_path(const char *path, const char *def)
{
	if (path == NULL)
		return def;
	return *path == '\0' ? NULL : path;
}

/*
 * The lifetime: expires_in, else expires_at, else the JWT's exp, else the
 * default.  Returns 0, or -EINVAL with *ret_msg (without the "HTTP 200"
 * prefix).
 */
static int
response_lifetime(const struct cred_conf *cc, struct response_doc *doc, int64_t now_ms,
		  struct token_response *tok, char **ret_msg)
{
	const char *in_path = response_path(cc->expires_in_path, "/expires_in");
	const char *at_path = response_path(cc->expires_at_path, NULL);
	struct response_value v = { 0 };
	const char *why;
	char *shown;
	int64_t ms = 0, exp;
	int r;

	if (in_path != NULL) {
		if (response_value(doc, in_path, &v) < 0) {
			*ret_msg = xasprintf("expires_in_path %s is not valid", in_path);
			return -EINVAL;
		}
		if (v.kind != RV_NONE) {
			r = response_seconds(&v, false, now_ms, &ms, &why);
			if (r < 0) {
				if (v.text != NULL) {
					shown = response_sanitize(v.text, v.len, 32);
					*ret_msg = xasprintf("expires_in: %s: %s", why, shown);
					free(shown);
				} else {
					*ret_msg = xstrdup("expires_in: not a number");
				}
				response_value_clear(&v);
				return r;
			}
			response_value_clear(&v);
			response_found(&tok->found, "expires_in", in_path);
			tok->lifetime_source = LIFETIME_EXPIRES_IN;
			goto done;
		}
	}
	if (at_path != NULL) {
		if (response_value(doc, at_path, &v) < 0) {
			*ret_msg = xasprintf("expires_at_path %s is not valid", at_path);
			return -EINVAL;
		}
		if (v.kind != RV_NONE) {
			r = response_seconds(&v, true, now_ms, &ms, &why);
			if (r < 0 && v.kind == RV_STRING && time_parse_iso8601(v.text, &exp) == 0) {
				ms = exp - now_ms;
				r = 0;
			}
			if (r < 0) {
				if (v.text != NULL) {
					shown = response_sanitize(v.text, v.len, 40);
					*ret_msg = xasprintf("expires_at: not a time: %s", shown);
					free(shown);
				} else {
					*ret_msg = xstrdup("expires_at: not a time");
				}
				response_value_clear(&v);
				return r;
			}
			response_value_clear(&v);
			if (ms > RESPONSE_LIFETIME_MAX_S * 1000) {
				*ret_msg = xstrdup("expires_at: more than ten years away");
				return -EINVAL;
			}
			response_found(&tok->found, "expires_at", at_path);
			tok->lifetime_source = LIFETIME_EXPIRES_AT;
			goto done;
		}
	}
	exp = response_jwt_exp(tok->token->access_token);
	if (exp > 0 && exp <= RESPONSE_LIFETIME_MAX_S + now_ms / 1000) {
		ms = exp * 1000 - now_ms;
		response_found(&tok->found, "exp", "the JWT payload");
		tok->lifetime_source = LIFETIME_JWT_EXP;
		goto done;
	}
	ms = cc->default_lifetime_ms;
	tok->lifetime_source = LIFETIME_DEFAULT;
done:
	if (ms <= 0) {
		*ret_msg = xstrdup(tok->lifetime_source == LIFETIME_DEFAULT ?
					   "no lifetime given and no default_lifetime" :
					   "the token has already expired");
		return -EINVAL;
	}
	tok->token->lifetime_ms = ms;
	if (tok->lifetime_source == LIFETIME_EXPIRES_AT || tok->lifetime_source == LIFETIME_JWT_EXP)
		tok->token->expires_wall_ms = now_ms + ms;
	return 0;
}

/*
 * Whether s is an RFC 7230 token, as an auth-scheme must be: it goes into
 * Authorization headers, sinks and environment files, where a space, a
 * line break or a quote would change what the reader sees.
 */
static bool
response_http_token(const char *s, size_t len)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (len == 0 || len > RESPONSE_TOKEN_TYPE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (c == '\0' || strchr(extra, c) == NULL))
			return false;
	}
	return true;
}

/* The token's type: "Bearer" when absent, any case of bearer normalised. */
static int
response_token_type(const struct cred_conf *cc, struct response_doc *doc,
		    struct token_response *tok, char **ret_msg)
{
	const char *path = response_path(cc->token_type_path, "/token_type");
	struct response_value v = { 0 };

	if (path != NULL && response_value(doc, path, &v) < 0) {
		*ret_msg = xasprintf("token_type_path %s is not valid", path);
		return -EINVAL;
	}
	if (v.kind == RV_STRING && v.len > 0) {
		if (!response_http_token(v.text, v.len)) {
			char *shown = response_sanitize(v.text, v.len, 32);

			*ret_msg = xasprintf("the token_type at %s is not an HTTP authentication "
					     "scheme (letters, digits and !#$%%&'*+-.^_`|~, at most "
					     "%d): refused '%s'",
					     path, RESPONSE_TOKEN_TYPE_MAX, shown);
			free(shown);
			response_value_clear(&v);
			return -EINVAL;
		}
		free(tok->token->token_type);
		tok->token->token_type = strcasecmp(v.text, "bearer") == 0 ? xstrdup("Bearer") :
								      xstrndup(v.text, v.len);
		response_found(&tok->found, "token_type", path);
	}
	/* Otherwise token_new's "Bearer" stays. */
	response_value_clear(&v);
	return 0;
}

/* The granted scope (JSON "scope"), space-separated; NULL when none. */
static char *
response_scope(const struct cred_conf *cc, struct response_doc *doc, struct token_response *tok)
{
	const struct json *j;
	const char *seps = cc->scope_separator == SCOPE_SEP_COMMA ? " ,\t" : " \t";
	char *raw, *out, *p;
	size_t n, o = 0;

	if (doc->fmt != FMT_JSON)
		return NULL;
	j = json_get(doc->json, "scope");
	if (j == NULL || j->type != JSON_STRING)
		return NULL;
	raw = response_sanitize(j->text, j->len, RESPONSE_TEXT_MAX);
	out = xmalloc(strlen(raw) + 1);
	for (p = raw;;) {
		p += strspn(p, seps);
		if (*p == '\0')
			break;
		n = strcspn(p, seps);
		if (o > 0)
			out[o++] = ' ';
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	out[o] = '\0';
	free(raw);
	if (o == 0) {
		free(out);
		return NULL;
	}
	response_found(&tok->found, "scope", "/scope");
	return out;
}

/* Whether the token would be unsafe in a header or a file line. */
static bool
response_token_bad(const struct response_value *v)
{
	for (size_t i = 0; i < v->len; i++) {
		unsigned char c = (unsigned char)v->text[i];

		if (c < 0x20 || c == 0x7f)
			return true;
	}
	return false;
}

/*
 * The answer once parsed: an error envelope, or the token and its lifetime.
 * Returns 0 with *ret_tok, or -EINVAL with err filled.
 */
static int
response_extract(const struct cred_conf *cc, long status, const char *mt, size_t len,
		 struct response_doc *doc, int64_t now_ms, struct token_response **ret_tok,
		 struct response_error *err)
{
	const char *token_path = response_path(cc->token_path, "/access_token");
	struct response_env env = { 0 };
	struct response_value v = { 0 };
	struct token_response *tok;
	char *text, *msg = NULL, *desc;

	if (token_path == NULL)
		token_path = "";
	if (doc->fmt == FMT_JSON)
		response_json_env(doc->json, &env);
	else
		response_xml_env(doc, &env);
	text = response_env_text(&env);

	if (!response_2xx(status) || env.error_key) {
		err->text = text != NULL ? xstrdup(text) : NULL;
		err->error = env.code_is_error ? TAKE_PTR(env.code) : NULL;
		err->description = TAKE_PTR(env.desc);
		if (response_2xx(status)) {
			msg = text != NULL ? xasprintf("HTTP %ld with error: %s", status, text) :
					     xasprintf("HTTP %ld with error", status);
		} else if (text == NULL) {
			desc = response_describe(mt, len);
			msg = xasprintf("HTTP %ld: not a token response %s", status, desc);
			free(desc);
		} else {
			msg = xasprintf("HTTP %ld: %s", status, text);
		}
		free(text);
		response_env_clear(&env);
		return response_fail(err, status, msg);
	}

	if (response_value(doc, token_path, &v) < 0) {
		msg = xasprintf("HTTP %ld but token_path %s is not a valid %s", status, token_path,
				doc->fmt == FMT_XML ? "XPath" : "JSON Pointer");
	} else if (v.kind != RV_STRING || v.len == 0) {
		msg = text != NULL ?
			      xasprintf("HTTP %ld but no token at %s: %s", status, token_path, text) :
			      xasprintf("HTTP %ld but no token at %s", status, token_path);
	} else if (response_token_bad(&v)) {
		msg = xasprintf("HTTP %ld but the token at %s contains control characters", status,
				token_path);
	}
	free(text);
	if (msg != NULL) {
		err->description = TAKE_PTR(env.desc);
		response_env_clear(&env);
		response_value_clear(&v);
		return response_fail(err, status, msg);
	}
	response_env_clear(&env);

	tok = xcalloc(1, sizeof(*tok));
	tok->token = token_new(secret_new(v.text, v.len), NULL, NULL);
	response_value_clear(&v);
	tok->format = doc->fmt == FMT_XML ? "xml" : "json";
	response_found(&tok->found, "access_token", token_path);
	if (response_token_type(cc, doc, tok, &text) < 0 ||
	    response_lifetime(cc, doc, now_ms, tok, &text) < 0) {
		response_free(tok);
		msg = xasprintf("HTTP %ld but %s", status, text);
		free(text);
		return response_fail(err, status, msg);
	}
	tok->token->scope = response_scope(cc, doc, tok);
	*ret_tok = tok;
	return 0;
}

int
response_parse(const struct cred_conf *cc, long status, const char *content_type,
	       const char *body, size_t len, int64_t now_wall_ms,
	       struct token_response **ret_tok, struct response_error *ret_err)
{
	struct response_doc doc = { 0 };
	struct response_xml_saved sv = { 0 };
	char *mt, *cause = NULL, *desc, *msg;
	bool xml;
	int r;

	memset(ret_err, 0, sizeof(*ret_err));
	if (status <= 0)
		return response_fail(ret_err, 0, xstrdup("no HTTP answer"));
	if (body == NULL)
		len = 0;
	mt = response_media_type(content_type);
	if (len > TOKEN_BODY_MAX) {
		r = response_fail(ret_err, status,
				  xasprintf("HTTP %ld: the body is too large (%zu bytes)", status,
					    len));
		free(mt);
		return r;
	}
	if (len == 0) {
		r = response_fail(ret_err, status,
				  response_2xx(status) ?
					  xasprintf("HTTP %ld but the body is empty", status) :
					  xasprintf("HTTP %ld: empty body", status));
		free(mt);
		return r;
	}

	doc.fmt = response_detect(cc->response_format, mt, body, len);
	if (doc.fmt == FMT_JSON) {
		/* RFC 8259 8.1: a parser may ignore a byte order mark; yajl does not */
		if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
			r = json_parse(body + 3, len - 3, &doc.json, &cause);
		else
			r = json_parse(body, len, &doc.json, &cause);
	} else if (doc.fmt == FMT_XML) {
		response_xml_begin(&sv);
		r = response_xml_parse(body, len, &doc, &cause);
	} else {
		r = -EINVAL;
	}

	if (r == 0) {
		r = response_extract(cc, status, mt, len, &doc, now_wall_ms, ret_tok, ret_err);
	} else {
		desc = response_describe(mt, len);
		if (!response_2xx(status))
			msg = xasprintf("HTTP %ld: not a token response %s", status, desc);
		else if (doc.fmt == FMT_JSON || doc.fmt == FMT_XML)
			msg = xasprintf("HTTP %ld but the body is not %s: %s %s", status,
					doc.fmt == FMT_JSON ? "JSON" : "XML", cause, desc);
		else
			msg = xasprintf("HTTP %ld but the body is neither JSON nor XML %s", status,
					desc);
		free(desc);
		free(cause);
		r = response_fail(ret_err, status, msg);
	}
	xml = doc.fmt == FMT_XML;
	response_doc_clear(&doc);
	if (xml)
		response_xml_end(&sv);
	free(mt);
	return r;
}

struct token_response *
response_free(struct token_response *tok)
{
	if (tok == NULL)
		return NULL;
	token_free(tok->token);
	free(tok->found);
	free(tok);
	return NULL;
}

void
response_error_clear(struct response_error *err)
{
	if (err == NULL)
		return;
	free(err->error);
	free(err->description);
	free(err->text);
	free(err->message);
	memset(err, 0, sizeof(*err));
}
