/*
 * The document layer of the answer: the body parsed as JSON (through
 * json.c) or as XML (libxml2: no entities, no DTD, no network, its global
 * error handlers and entity loader saved and put back around each use), and
 * the value at a JSON Pointer or an XPath in it.  Everything libxml2
 * allocates is wiped when freed, since the document holds the token.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlmemory.h>
#include <libxml/xpath.h>

#include "json.h"
#include "response-int.h"
#include "secret.h"
#include "xmalloc.h"

/* Wipes and frees v's text; v is RV_NONE after. */
void
response_doc_value_clear(struct response_value *v)
{
	if (v->text != NULL)
		secret_free_buf(v->text, v->len + 1);
	v->text = NULL;
	v->len = 0;
	v->kind = RV_NONE;
}

/* ---- XML ---- */

static void
response_doc_xml_free_cb(void *p)
{
	secret_wipe_free(p);
}

static void *
response_doc_xml_malloc_cb(size_t size)
{
	return xmalloc(size == 0 ? 1 : size);
}

static void *
response_doc_xml_realloc_cb(void *p, size_t size)
{
	return secret_wipe_realloc(p, size);
}

static char *
response_doc_xml_strdup_cb(const char *s)
{
	return xstrdup(s);
}

static void
response_doc_xml_serror_cb(void *ctx, xmlErrorPtr e)
{
}

static void
response_doc_xml_gerror_cb(void *ctx, const char *fmt, ...)
{
}

/* No external entity, DTD or XInclude is ever loaded, from anywhere. */
static xmlParserInputPtr
response_doc_xml_noload_cb(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	return NULL;
}

/*
 * Points libxml2 at allocators that wipe (the document holds the token) the
 * first time it is used: they are plain malloc underneath, so blocks from
 * before are freed correctly too.
 */
static void
response_doc_xml_init(void)
{
	static bool done;

	if (done)
		return;
	xmlMemSetup(response_doc_xml_free_cb, response_doc_xml_malloc_cb,
		    response_doc_xml_realloc_cb, response_doc_xml_strdup_cb);
	xmlInitParser();
	done = true;
}

/* Silences libxml2's error output and entity loading until the matching end. */
static void
response_doc_xml_begin(struct response_xml_saved *sv)
{
	response_doc_xml_init();
	sv->serror = xmlStructuredError;
	sv->sctx = xmlStructuredErrorContext;
	sv->gerror = xmlGenericError;
	sv->gctx = xmlGenericErrorContext;
	sv->loader = xmlGetExternalEntityLoader();
	xmlSetStructuredErrorFunc(NULL, response_doc_xml_serror_cb);
	xmlSetGenericErrorFunc(NULL, response_doc_xml_gerror_cb);
	xmlSetExternalEntityLoader(response_doc_xml_noload_cb);
}

static void
response_doc_xml_end(struct response_xml_saved *sv)
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
response_doc_xml_parse(const char *body, size_t len, struct response_doc *doc, char **cause)
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
response_doc_xml_value(struct response_doc *doc, const char *path, struct response_value *ret)
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
 * Parses body as doc->fmt says, FMT_JSON or FMT_XML.  For XML, libxml2 is
 * kept quiet until response_doc_clear, which the caller calls whatever
 * this returns.  Returns 0, or -EINVAL (-ENOMEM) with *cause, which quotes
 * nothing of the body.
 */
int
response_doc_parse(struct response_doc *doc, const char *body, size_t len, char **cause)
{
	if (doc->fmt == FMT_XML) {
		response_doc_xml_begin(&doc->saved);
		doc->xml_saved = true;
		return response_doc_xml_parse(body, len, doc, cause);
	}
	/* RFC 8259 8.1: a parser may ignore a byte order mark; yajl does not */
	if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
		return json_parse(body + 3, len - 3, &doc->json, cause);
	return json_parse(body, len, &doc->json, cause);
}

/*
 * The value at path: a JSON Pointer for JSON, an XPath for XML.  Returns 0
 * (kind RV_NONE when absent) or -EINVAL when path is not valid.
 */
int
response_doc_value(struct response_doc *doc, const char *path, struct response_value *ret)
{
	const struct json *j;

	memset(ret, 0, sizeof(*ret));
	if (doc->fmt == FMT_XML)
		return response_doc_xml_value(doc, path, ret);
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

/*
 * Frees what the document holds and, once its XML is gone, gives libxml2
 * back the state it had before response_doc_parse.  doc is empty after.
 */
void
response_doc_clear(struct response_doc *doc)
{
	if (doc->xpath != NULL)
		xmlXPathFreeContext(doc->xpath);
	if (doc->xml != NULL)
		xmlFreeDoc(doc->xml);
	json_free(doc->json);
	if (doc->xml_saved)
		response_doc_xml_end(&doc->saved);
	memset(doc, 0, sizeof(*doc));
}
