/*
 * http.c: what fakeidp reads of a request (method, path, query) and how it
 * answers one (headers, status line with its reason phrase, JSON bodies);
 * every answer goes out through http_send, which logs it.
 */

#include "log.h"
#include "fakeidp.h"

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 423: return "Locked";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

/* The RFC 6749 error code that best fits an injected status. */
const char *
http_oauth_error(int status)
{
	switch (status) {
	case 401: return "invalid_client";
	case 403: return "unauthorized_client";
	case 429:
	case 503: return "temporarily_unavailable";
	default: return status >= 500 ? "server_error" : "invalid_request";
	}
}

const char *
http_method(const struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	default: return "?";
	}
}

const char *
http_path(const struct evhttp_request *req)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *p = u != NULL ? evhttp_uri_get_path(u) : NULL;

	return p != NULL ? p : "";
}

const char *
http_query(const struct evhttp_request *req)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);

	return u != NULL ? evhttp_uri_get_query(u) : NULL;
}

void
http_header(struct evhttp_request *req, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), name, value);
}

/* Sends status and body (NULL: none; its contents are moved out). */
void
http_send(struct evhttp_request *req, int status, struct evbuffer *body)
{
	char path[81];

	util_log_safe(http_path(req), path);
	log_info("%s %s: %d", http_method(req), path, status);
	evhttp_send_reply(req, status, http_reason(status), body);
}

void
http_json(struct evhttp_request *req, int status, struct evbuffer *body)
{
	http_header(req, "Content-Type", "application/json");
	http_header(req, "Cache-Control", "no-store");
	http_send(req, status, body);
	evbuffer_free(body);
}

void
http_error(struct evhttp_request *req, int status, const char *error, const char *description)
{
	http_json(req, status, json_error(error, description));
}

/*
 * Whether req's method is one of methods (EVHTTP_REQ_* bits).  If not,
 * answers 405 with Allow: allow and the description, and returns false.
 */
bool
http_allow(struct evhttp_request *req, int methods, const char *allow, const char *description)
{
	if ((evhttp_request_get_command(req) & methods) != 0)
		return true;
	http_header(req, "Allow", allow);
	http_error(req, 405, "invalid_request", description);
	return false;
}

void
http_type(struct evhttp_request *req, const char *type)
{
	http_header(req, "Content-Type", type);
	http_header(req, "Cache-Control", "no-store");
}

struct evbuffer *
http_buffer_new(void)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL)
		log_fatal("out of memory");
	return b;
}
