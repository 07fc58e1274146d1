/*
 * What the pieces of the token endpoint's answer share; nothing but
 * response*.c includes it (the public API is response.h).  The parsed
 * document and the values found in it (response-doc.c), what an error
 * envelope said (response-env.c), and the small text helpers response.c
 * keeps for all of them (blanks, numbers, a sanitized copy).
 */
#ifndef TB_RESPONSE_INT_H
#define TB_RESPONSE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>

#include "json.h"
#include "response.h"

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

/* libxml2's global state, saved around each use. */
struct response_xml_saved {
	xmlStructuredErrorFunc serror;
	void *sctx;
	xmlGenericErrorFunc gerror;
	void *gctx;
	xmlExternalEntityLoader loader;
};

/* A body parsed as fmt says: json for FMT_JSON, xml and xpath for FMT_XML. */
struct response_doc {
	enum response_fmt fmt;
	struct json *json;
	xmlDocPtr xml;
	xmlXPathContextPtr xpath;
	bool xml_saved; /* libxml2's state is in saved until response_doc_clear */
	struct response_xml_saved saved;
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

/* response.c */
bool response_blank(char c);
char *response_text(const char *s, size_t len);
bool response_number(const char *s, size_t len, double *ret);

/* response-doc.c */
int response_doc_parse(struct response_doc *doc, const char *body, size_t len, char **cause);
int response_doc_value(struct response_doc *doc, const char *path, struct response_value *ret);
void response_doc_value_clear(struct response_value *v);
void response_doc_clear(struct response_doc *doc);

/* response-env.c */
void response_env_read(struct response_doc *doc, struct response_env *env);
char *response_env_text(const struct response_env *env);
void response_env_clear(struct response_env *env);
bool response_env_auth_code(const char *code);
bool response_env_permanent(long status, const char *code, bool auth_failed);

#endif
