/*
 * The error envelopes token endpoints answer with, JSON and XML dialects
 * (RFC 6749 5.2, Xibo, Xvid, RFC 7807, Oracle SBC), read into one
 * struct response_env; the text a person reads from one; and which codes
 * mean the authentication failed or the request cannot succeed as sent.
 * Everything kept from the body is sanitized and capped.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "json.h"
#include "response-int.h"
#include "text.h"
#include "xmalloc.h"

/* A JSON string or number as sanitized text, or NULL. */
static char *
response_env_json_text(const struct json *j)
{
	if (j == NULL || (j->type != JSON_STRING && j->type != JSON_NUMBER))
		return NULL;
	return response_text(j->text, j->len);
}

void
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
response_env_json(const struct json *root, struct response_env *env)
{
	const struct json *e = json_get(root, "error");

	if (e != NULL && e->type == JSON_STRING && e->len > 0) {
		env->error_key = true;
		env->code_is_error = true;
		env->code = response_env_json_text(e);
		env->desc = response_env_json_text(json_get(root, "error_description"));
		env->hint = response_env_json_text(json_get(root, "hint"));
		if (env->desc == NULL)
			env->desc = response_env_json_text(json_get(root, "message"));
		return;
	}
	if (e != NULL && e->type == JSON_OBJECT) {
		env->error_key = true;
		if (json_get(e, "error_code") != NULL || json_get(e, "error_message") != NULL) {
			env->code = response_env_json_text(json_get(e, "error_code"));
			env->desc = response_env_json_text(json_get(e, "error_message"));
			env->code_last = true;
			env->code_is_error = true;
		} else {
			/* Xibo 2.x: code repeats the HTTP status. */
			env->desc = response_env_json_text(json_get(e, "message"));
		}
		if (env->code != NULL || env->desc != NULL)
			return;
	}
	if (e != NULL && e->type == JSON_BOOL && e->boolean)
		env->error_key = true;
	env->desc = response_env_json_text(json_get(root, "message"));
	if (env->desc == NULL)
		env->desc = response_env_json_text(json_get(root, "detail"));
	if (env->desc == NULL)
		env->desc = response_env_json_text(json_get(root, "title"));
}

/* Appends the non-blank text of n's leaves to b, parts joined by ": ". */
static void
response_env_xml_leaves(xmlNodePtr n, char **b)
{
	xmlChar *s;
	char *t, *joined;

	for (xmlNodePtr c = n->children; c != NULL; c = c->next) {
		if (c->type == XML_ELEMENT_NODE) {
			response_env_xml_leaves(c, b);
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
response_env_xml(struct response_doc *doc, struct response_env *env)
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
			response_env_xml_leaves(n, &one);
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
		capped = text_sanitize(all, strlen(all), RESPONSE_TEXT_MAX);
		free(all);
		env->desc = capped;
		return;
	}
	if (response_doc_value(doc, "/*/error", &v) == 0 && v.kind == RV_STRING && v.len > 0) {
		env->error_key = true;
		env->code_is_error = true;
		env->code = response_text(v.text, v.len);
		response_doc_value_clear(&v);
		if (response_doc_value(doc, "/*/error_description", &v) == 0 && v.kind == RV_STRING)
			env->desc = response_text(v.text, v.len);
	}
	response_doc_value_clear(&v);
}

/*
 * What doc's error envelope says, in env (all NULL and false when it has
 * none); the caller clears env.  doc is JSON or XML.
 */
void
response_env_read(struct response_doc *doc, struct response_env *env)
{
	if (doc->fmt == FMT_JSON)
		response_env_json(doc->json, env);
	else
		response_env_xml(doc, env);
}

/* "code: description (hint: ...)" or the parts there are; NULL if none. */
char *
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
response_env_code_in(const char *code, const char *const *codes)
{
	if (code == NULL)
		return false;
	for (; *codes != NULL; codes++) {
		if (strcasecmp(code, *codes) == 0)
			return true;
	}
	return false;
}

/* Whether an upstream error code says the credential itself was refused. */
bool
response_env_auth_code(const char *code)
{
	static const char *const codes[] = { "invalid_client", "unauthorized_client",
					     "invalid_grant", "access_denied", NULL };

	return response_env_code_in(code, codes);
}

/*
 * Whether sending the same request again can succeed.  A 4xx says the
 * request is wrong, except 408 (timeout), 425 (too early) and 429 (too
 * many); RFC 6749 5.2 and 8693 codes that name the request are wrong
 * whatever the status they come with.
 */
bool
response_env_permanent(long status, const char *code, bool auth_failed)
{
	static const char *const codes[] = { "invalid_request", "invalid_scope",
					     "unsupported_grant_type", "invalid_target",
					     "unsupported_token_type", NULL };

	if (auth_failed || response_env_code_in(code, codes))
		return true;
	return status >= 400 && status <= 499 && status != 408 && status != 425 && status != 429;
}
