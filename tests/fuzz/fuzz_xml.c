/*
 * The XML layer of the token endpoint's answer (response-doc.c): the input
 * is a body, parsed as XML and looked into with the XPaths of the
 * defaults, the profiles and of custom configurations.
 *
 * Properties: no entity is ever declared, referenced or expanded in a
 * document that parses, and none has an external DTD; nothing is loaded
 * (an external entity loader that aborts is in place, so one call would be
 * a finding); libxml2's error handlers and entity loader are given back as
 * they were; a refusal's cause quotes nothing of the body; a value found is
 * trimmed text without a NUL; an invalid XPath is -EINVAL, never a crash.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "fuzz.h"
#include "response-int.h"

static const char *const xpaths[] = {
	"/access_token",
	"/response/data/accessToken",
	"/expires_in",
	"/token_type",
	"//token",
	"string(//ttl)",
	"/r/@token",
	"/*/error",
	"/*/error_description",
	"//*[local-name()='messages']/node()",
	"count(//*)",
	"1 div 0",
	"//text()",
	"/x[",
	"",
	"concat(/a, /b)",
	"boolean(/a)",
	"/*/*/*/*",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xmlParserInputPtr
tripwire_loader_cb(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	fuzz_violated(__FILE__, __LINE__, "no load", "libxml2 asked to load %s",
		      url != NULL ? url : "(null)");
}

static void
tripwire_serror_cb(void *ctx, xmlErrorPtr e)
{
}

static void
tripwire_gerror_cb(void *ctx, const char *fmt, ...)
{
}

/* No entity declaration, reference or node anywhere under n. */
static void
check_no_entities(xmlNodePtr n)
{
	for (; n != NULL; n = n->next) {
		FUZZ_CHECK(n->type != XML_ENTITY_REF_NODE && n->type != XML_ENTITY_NODE &&
				   n->type != XML_ENTITY_DECL && n->type != XML_XINCLUDE_START,
			   "node type %d in a document that parsed", (int)n->type);
		if (n->type == XML_ELEMENT_NODE || n->type == XML_DTD_NODE)
			check_no_entities(n->children);
	}
}

/* A cause is one of the fixed ones, quoting nothing of the body. */
static void
check_cause(const char *cause)
{
	int line, used = 0;

	FUZZ_CHECK(cause != NULL, "a refusal without a cause");
	if (strcmp(cause, "parse error") == 0 ||
	    strcmp(cause, "entity declarations refused") == 0 ||
	    strcmp(cause, "external DTD refused") == 0 ||
	    strcmp(cause, "cannot evaluate XPath") == 0)
		return;
	FUZZ_CHECK(sscanf(cause, "parse error at line %d%n", &line, &used) == 1 &&
			   (size_t)used == strlen(cause) && line > 0,
		   "an unexpected cause");
}

static void
check_value(struct response_doc *doc, const char *path)
{
	struct response_value v;
	int r = response_doc_value(doc, path, &v);

	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL && v.kind == RV_NONE && v.text == NULL,
			   "an invalid XPath gave %d", r);
		return;
	}
	FUZZ_CHECK(r == 0, "returned %d", r);
	if (v.kind == RV_STRING) {
		FUZZ_CHECK(v.text != NULL && strlen(v.text) == v.len, "a value's length is wrong");
		FUZZ_CHECK(v.len == 0 || (!response_blank(v.text[0]) &&
					  !response_blank(v.text[v.len - 1])),
			   "a value is not trimmed");
	} else {
		FUZZ_CHECK(v.text == NULL, "text for a value of kind %d", (int)v.kind);
	}
	response_doc_value_clear(&v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct response_doc doc = { 0 };
	char *cause = NULL;
	int r;

	xmlSetExternalEntityLoader(tripwire_loader_cb);
	xmlSetStructuredErrorFunc(NULL, tripwire_serror_cb);
	xmlSetGenericErrorFunc(NULL, tripwire_gerror_cb);

	doc.fmt = FMT_XML;
	r = response_doc_parse(&doc, (const char *)data, size, &cause);
	if (r == 0) {
		xmlDtdPtr dtd = doc.xml->intSubset;

		FUZZ_CHECK(cause == NULL, "a cause for a document that parsed");
		FUZZ_CHECK(dtd == NULL || (dtd->entities == NULL && dtd->pentities == NULL &&
					   dtd->SystemID == NULL && dtd->ExternalID == NULL),
			   "a DTD with entities or an external part");
		FUZZ_CHECK(doc.xml->extSubset == NULL, "an external subset");
		check_no_entities(doc.xml->children);
		for (size_t i = 0; i < sizeof(xpaths) / sizeof(xpaths[0]); i++)
			check_value(&doc, xpaths[i]);
	} else {
		FUZZ_CHECK(r == -EINVAL || r == -ENOMEM, "returned %d", r);
		check_cause(cause);
		free(cause);
	}
	response_doc_clear(&doc);

	FUZZ_CHECK(xmlGetExternalEntityLoader() == tripwire_loader_cb,
		   "the entity loader was not given back");
	FUZZ_CHECK(xmlStructuredError == tripwire_serror_cb &&
			   xmlGenericError == tripwire_gerror_cb,
		   "the error handlers were not given back");
	return 0;
}
