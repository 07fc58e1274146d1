/*
 * evil.c: token answers no parser should take, for the modes that ask for
 * them: JSON that is not (a trailing comma), nested 100000 deep, with bytes
 * that are not UTF-8 in the token, or 50 MiB long (with a Content-Length or
 * chunked); and XML with external entities, a billion laughs or an external
 * DTD, in the oracle-sbc dialect's shape.  None of their tokens is ever
 * issued.  Also /entity, the URL those entities and that DTD name, which
 * counts who fetches it.
 */

#include <string.h>

#include "cleanup.h"
#include "xmalloc.h"
#include "fakeidp.h"

#define DEEP_JSON_DEPTH 100000
#define HUGE_LEN (50LL * 1024 * 1024)
#define HUGE_BLOCK (1024 * 1024)

/* The start of an oauth2 answer, up to where its last member would go. */
static void
evil_json_start(struct fakeidp *fk, struct evbuffer *b)
{
	char *token = token_new(fk, fk->cur.lifetime);

	evbuffer_add_printf(b, "{\"access_token\":\"%s\",\"token_type\":\"Bearer\","
	    "\"expires_in\":%lld", token, fk->cur.lifetime);
	secret_free_str(token);
}

/* 50 MiB of 'x', as references to one block: fakeidp's memory stays small. */
static void
evil_huge(struct fakeidp *fk, struct evbuffer *b)
{
	static char block[HUGE_BLOCK];

	if (block[0] != 'x')
		memset(block, 'x', sizeof(block));
	evil_json_start(fk, b);
	evbuffer_add_printf(b, "%s", ",\"padding\":\"");
	for (long long n = 0; n < HUGE_LEN; n += HUGE_BLOCK)
		evbuffer_add_reference(b, block, HUGE_BLOCK, NULL, NULL);
	evbuffer_add_printf(b, "%s", "\"}");
}

static struct evbuffer *
evil_json(struct fakeidp *fk, struct evhttp_request *req, enum mode mode)
{
	struct evbuffer *b = http_buffer_new();
	char *token;

	http_type(req, "application/json");
	switch (mode) {
	case MODE_INVALID_JSON:
		evil_json_start(fk, b);
		evbuffer_add_printf(b, "%s", ",}");
		break;
	case MODE_DEEP_JSON:
		evil_json_start(fk, b);
		evbuffer_add_printf(b, "%s", ",\"nested\":");
		for (int i = 0; i < DEEP_JSON_DEPTH; i++)
			evbuffer_add(b, "[", 1);
		for (int i = 0; i < DEEP_JSON_DEPTH; i++)
			evbuffer_add(b, "]", 1);
		evbuffer_add_printf(b, "%s", "}");
		break;
	case MODE_BAD_UTF8:
		token = token_new(fk, fk->cur.lifetime);
		/* An overlong '/' and bytes that are never UTF-8, in the token. */
		evbuffer_add_printf(b, "{\"access_token\":\"%s\xc0\xaf\xfe\xff\",\"token_type\":"
		    "\"Bearer\",\"expires_in\":%lld}", token, fk->cur.lifetime);
		secret_free_str(token);
		break;
	default:
		evil_huge(fk, b);
		break;
	}
	return b;
}

/* Where the entities and the DTD point: this server's /entity, as asked for. */
static char *
evil_entity_url(const struct fakeidp *fk, struct evhttp_request *req)
{
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");

	if (host == NULL || strpbrk(host, "\"<>& ") != NULL)
		host = "127.0.0.1";
	return xasprintf("%s://%s/entity", fk->ssl != NULL ? "https" : "http", host);
}

static struct evbuffer *
evil_xml(struct fakeidp *fk, struct evhttp_request *req, enum mode mode)
{
	struct evbuffer *b = http_buffer_new();
	_cleanup_free_ char *url = evil_entity_url(fk, req);
	char *token;

	http_type(req, "application/xml");
	evbuffer_add_printf(b, "%s", XML_DECL);
	switch (mode) {
	case MODE_XML_ENTITY:
		evbuffer_add_printf(b, "<!DOCTYPE response [\n"
		    "  <!ENTITY file SYSTEM \"file:///etc/passwd\">\n"
		    "  <!ENTITY net SYSTEM \"%s\">\n]>\n"
		    "<response><data><accessToken>&file;&net;</accessToken></data>"
		    "<messages/><links/></response>\n", url);
		break;
	case MODE_XML_BOMB:
		evbuffer_add_printf(b, "%s", "<!DOCTYPE response [\n  <!ENTITY lol \"lol\">\n");
		for (int i = 1; i <= 9; i++) {
			evbuffer_add_printf(b, "  <!ENTITY lol%d \"", i);
			for (int k = 0; k < 10; k++) {
				if (i == 1)
					evbuffer_add_printf(b, "%s", "&lol;");
				else
					evbuffer_add_printf(b, "&lol%d;", i - 1);
			}
			evbuffer_add_printf(b, "%s", "\">\n");
		}
		evbuffer_add_printf(b, "%s", "]>\n<response><data><accessToken>&lol9;"
		    "</accessToken></data><messages/><links/></response>\n");
		break;
	default:
		token = token_new(fk, fk->cur.lifetime);
		evbuffer_add_printf(b, "<!DOCTYPE response SYSTEM \"%s\">\n<response><data>"
		    "<accessToken>%s</accessToken></data><messages/><links/></response>\n",
		    url, token);
		secret_free_str(token);
		break;
	}
	return b;
}

/*
 * The answer of an evil mode (headers set on req), or NULL when the mode
 * is not one.
 */
struct evbuffer *
evil_body(struct fakeidp *fk, struct evhttp_request *req)
{
	switch (fk->cur.mode) {
	case MODE_INVALID_JSON:
	case MODE_DEEP_JSON:
	case MODE_BAD_UTF8:
	case MODE_HUGE:
	case MODE_HUGE_CHUNKED:
		return evil_json(fk, req, fk->cur.mode);
	case MODE_XML_ENTITY:
	case MODE_XML_BOMB:
	case MODE_XML_DTD:
		return evil_xml(fk, req, fk->cur.mode);
	default:
		return NULL;
	}
}

/* Sends status and body chunked: no Content-Length says how long it is. */
void
evil_send_chunked(struct evhttp_request *req, int status, struct evbuffer *body)
{
	evhttp_send_reply_start(req, status, http_reason(status));
	evhttp_send_reply_chunk(req, body);
	evhttp_send_reply_end(req);
}

/* GET /entity: what an entity would have brought in, counted. */
void
evil_entity(struct fakeidp *fk, struct evhttp_request *req)
{
	struct evbuffer *b = http_buffer_new();

	fk->stats.entity_fetches++;
	http_type(req, "text/plain");
	evbuffer_add_printf(b, "%s", "fk_fetched_by_an_xml_parser\n");
	http_send(req, 200, b);
	evbuffer_free(b);
}
