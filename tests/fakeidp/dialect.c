/*
 * dialect.c: the dialects fakeidp speaks (oauth2, xibo, oracle-sbc, xvid)
 * as a table, and what differs between them outside the token endpoint's
 * checks: the envelope of an error answer and the manner of a 404.
 */

#include <errno.h>
#include <string.h>

#include "fakeidp.h"

/*
 * The dialects: the name --dialect takes, the token path served when
 * --token-path is not given (oracle-sbc has its versioned ones, set by
 * main.c), and the checks its token endpoint makes.
 */
static const struct dialect_def {
	const char *name;
	const char *token_path;
	dialect_token_fn *token;
} dialects[DIALECT_N] = {
	[DIALECT_OAUTH2] = { "oauth2", "/token", token_oauth2 },
	[DIALECT_XIBO] = { "xibo", "/api/authorize/access_token", token_xibo },
	[DIALECT_SBC] = { "oracle-sbc", NULL, sbc_token },
	[DIALECT_XVID] = { "xvid", "/oauth2/token/", token_xvid },
};

const char *
dialect_name(enum dialect d)
{
	return dialects[d].name;
}

/* The dialect called name, or -ENOENT. */
int
dialect_from_name(const char *name)
{
	for (int d = 0; d < DIALECT_N; d++)
		if (strcmp(name, dialects[d].name) == 0)
			return d;
	return -ENOENT;
}

/* The token path a dialect serves by default; NULL for oracle-sbc. */
const char *
dialect_token_path(enum dialect d)
{
	return dialects[d].token_path;
}

/* The dialect's checks of a token request and its answer, in *ret. */
int
dialect_token(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr,
    struct evbuffer **ret)
{
	return dialects[fk->dialect].token(fk, req, tr, ret);
}

/* An error body in the dialect's envelope; its headers go on req. */
struct evbuffer *
dialect_error_body(const struct fakeidp *fk, struct evhttp_request *req, const struct err *e)
{
	const char *reason = http_reason(e->status);
	yajl_gen g;

	if (fk->dialect == DIALECT_SBC) {
		http_type(req, "application/xml");
		return sbc_error_xml(e->status, e->text != NULL ? e->text : reason);
	}
	if (fk->dialect == DIALECT_OAUTH2) {
		http_type(req, "application/json");
		return json_error(e->code, e->text);
	}
	g = json_new();
	if (fk->dialect == DIALECT_XVID) {
		json_string(g, "error");
		yajl_gen_map_open(g);
		json_str(g, "error_code", e->xvid_code != NULL ? e->xvid_code : "0x0000001");
		json_str(g, "error_message", e->text != NULL ? e->text :
		    e->status >= 500 ? "Internal Error" : reason);
		yajl_gen_map_close(g);
	} else if (fk->cur.xibo_version >= 3) {
		json_str(g, "error", e->code);
		json_str(g, "error_description", e->text != NULL ? e->text : reason);
		json_str(g, "hint", e->hint != NULL ? e->hint : "");
		json_str(g, "message", e->text != NULL ? e->text : reason);
	} else {
		json_string(g, "error");
		yajl_gen_map_open(g);
		json_str(g, "message", e->text != NULL ? e->text : reason);
		json_int(g, "code", e->status);
		json_string(g, "data");
		yajl_gen_array_open(g);
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
	}
	http_type(req, "application/json");
	return json_finish(g);
}

/* Answers an error now, outside the token endpoint. */
void
dialect_reply_err(const struct fakeidp *fk, struct evhttp_request *req, const struct err *e)
{
	struct evbuffer *b = dialect_error_body(fk, req, e);

	http_send(req, e->status, b);
	evbuffer_free(b);
}

/* A 404 in the dialect's manner: Xibo's is a web page. */
void
dialect_not_found(struct fakeidp *fk, struct evhttp_request *req)
{
	const char *path = http_path(req);
	size_t n = strlen(path);
	struct evbuffer *b;

	if (fk->dialect == DIALECT_XIBO) {
		http_header(req, "Content-Type", "text/html; charset=UTF-8");
		b = http_buffer_new();
		evbuffer_add_printf(b, "%s", "<!DOCTYPE html>\n<html lang=\"en\">\n"
		    "<head><meta charset=\"utf-8\"><title>Page not found</title></head>\n"
		    "<body><h1>Page not found</h1>\n<p>The page you requested could not be "
		    "found.</p></body>\n</html>\n");
		http_send(req, 404, b);
		evbuffer_free(b);
		return;
	}
	if (fk->dialect == DIALECT_SBC && strncmp(path, "/rest/", 6) == 0 && n > 11 &&
	    strcmp(path + n - 11, "/auth/token") == 0) {
		dialect_reply_err(fk, req, &(struct err){ .status = 404,
		    .text = "Unsupported API version" });
		return;
	}
	dialect_reply_err(fk, req, &(struct err){ .status = 404, .code = "not_found" });
}
