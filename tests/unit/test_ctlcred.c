/*
 * ctlcred.c (tokenctl): the apiVersion KUBERNETES_EXEC_INFO asks for, the
 * RFC 3339 expiry, the ExecCredential as kubectl reads it, and git's
 * credential-helper request and answer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl.h"
#include "secbuf.h"

#define S(lit) lit, sizeof(lit) - 1

/* The version info asks for, or the cause of its refusal. */
static const char *
exec_info(const char *info, char **cause)
{
	const char *v = NULL;

	*cause = NULL;
	if (ctlcred_exec_info_version(info, &v, cause) < 0) {
		assert_non_null(*cause);
		assert_null(v);
		return NULL;
	}
	assert_null(*cause);
	return v;
}

static void
test_exec_info(void **state)
{
	char *cause;

	assert_string_equal(exec_info(NULL, &cause), CTLCRED_K8S_V1);
	assert_string_equal(exec_info("", &cause), CTLCRED_K8S_V1);
	assert_string_equal(exec_info("{\"kind\":\"ExecCredential\",\"apiVersion\":"
				      "\"client.authentication.k8s.io/v1beta1\",\"spec\":{\"interactive\":false}}",
			        &cause),
	    CTLCRED_K8S_V1BETA1);
	assert_string_equal(exec_info("{\"apiVersion\":\"client.authentication.k8s.io/v1\","
				      "\"spec\":{\"cluster\":{\"server\":\"https://x\"},\"interactive\":true}}",
			        &cause),
	    CTLCRED_K8S_V1);
}

/* info is refused with a cause that holds want. */
static void
refused(const char *info, const char *want)
{
	char *cause;

	assert_null(exec_info(info, &cause));
	assert_non_null(strstr(cause, want));
	/* Shown sanitized: no line break reaches the terminal. */
	assert_null(strchr(cause, '\n'));
	free(cause);
}

static void
test_exec_info_refused(void **state)
{
	char *big;

	refused("{\"apiVersion\":\"client.authentication.k8s.io/v1alpha1\"}",
	    "apiVersion 'client.authentication.k8s.io/v1alpha1'");
	refused("{\"apiVersion\":\"x\"}", "set the kubeconfig's exec apiVersion to "
					  "client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1");
	/* A prefix of a known version is not that version. */
	refused("{\"apiVersion\":\"client.authentication.k8s.io/v\"}", "does not answer in");
	refused("{\"apiVersion\":\"a\\nb\"}", "'a?b'");
	refused("{\"apiVersion\":", "KUBERNETES_EXEC_INFO is not a JSON object");
	refused("[\"client.authentication.k8s.io/v1\"]", "KUBERNETES_EXEC_INFO is not a JSON object");
	refused("{\"apiVersion\":1}", "has no apiVersion string");
	refused("{\"kind\":\"ExecCredential\"}", "has no apiVersion string");

	big = malloc(CTLCRED_EXEC_INFO_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', CTLCRED_EXEC_INFO_MAX + 1);
	big[CTLCRED_EXEC_INFO_MAX + 1] = '\0';
	refused(big, "longer than 65536 bytes");
	free(big);
}

static void
test_rfc3339(void **state)
{
	char buf[CTLCRED_RFC3339_SIZE];

	assert_int_equal(ctlcred_rfc3339(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	assert_int_equal(ctlcred_rfc3339(1796169599, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-12-01T23:59:59Z");
	assert_int_equal(ctlcred_rfc3339(INT64_C(253402300799), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "9999-12-31T23:59:59Z");
	assert_int_equal(ctlcred_rfc3339(INT64_C(253402300800), buf, sizeof(buf)), -ERANGE);
	assert_int_equal(ctlcred_rfc3339(-1, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(ctlcred_rfc3339(0, buf, 10), -ERANGE);
}

static void
test_exec_credential(void **state)
{
	struct secbuf b = { 0 };

	assert_int_equal(ctlcred_exec_credential(&b, CTLCRED_K8S_V1, "abc.def", 1796169599), 0);
	assert_string_equal(b.data, "{\"apiVersion\":\"client.authentication.k8s.io/v1\","
				    "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"abc.def\","
				    "\"expirationTimestamp\":\"2026-12-01T23:59:59Z\"}}\n");
	secbuf_clear(&b);
	/* Quotes and backslashes escaped; no expiry known, none said. */
	assert_int_equal(ctlcred_exec_credential(&b, CTLCRED_K8S_V1BETA1, "a\"b\\c", -1), 0);
	assert_string_equal(b.data, "{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
				    "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"a\\\"b\\\\c\"}}\n");
	secbuf_clear(&b);
	assert_int_equal(ctlcred_exec_credential(&b, CTLCRED_K8S_V1, "bad\xff", 0), -EINVAL);
	secbuf_clear(&b);
}

static void
test_git_request_end(void **state)
{
	assert_int_equal(ctlcred_git_request_end(S("protocol=https\nhost=h\n\n")), 23);
	assert_int_equal(ctlcred_git_request_end(S("a=b\r\n\r\nrest")), 7);
	assert_int_equal(ctlcred_git_request_end(S("a=b\n\nc=d\n\n")), 5);
	assert_int_equal(ctlcred_git_request_end(S("\n")), 1);
	assert_int_equal(ctlcred_git_request_end(S("a=b\n")), SIZE_MAX);
	assert_int_equal(ctlcred_git_request_end(S("a=b\n\r")), SIZE_MAX);
	assert_int_equal(ctlcred_git_request_end(S("")), SIZE_MAX);
}

static void
test_git_request_check(void **state)
{
	char *cause = NULL;

	assert_int_equal(ctlcred_git_request_check(S("protocol=https\nhost=h:8080\npath=a/b\n"
						     "password=p=q\nwwwauth[]=Basic realm=\"x\"\n\n"),
			     &cause),
	    0);
	assert_int_equal(ctlcred_git_request_check(S("protocol=https\r\nhost=h"), &cause), 0);
	assert_int_equal(ctlcred_git_request_check(S(""), &cause), 0);
	/* The check ends at the blank line. */
	assert_int_equal(ctlcred_git_request_check(S("a=b\n\nnot a pair\n"), &cause), 0);
	assert_null(cause);

	assert_int_equal(ctlcred_git_request_check(S("protocol=https\nhunter2\n"), &cause), -EINVAL);
	assert_non_null(strstr(cause, "line 2 of git's request is not key=value"));
	assert_null(strstr(cause, "hunter2"));
	free(cause);
	assert_int_equal(ctlcred_git_request_check(S("a=b\nc=d\n=x\n"), &cause), -EINVAL);
	assert_string_equal(cause, "line 3 of git's request has an empty key before '='");
	free(cause);
	assert_int_equal(ctlcred_git_request_check(S("a=b\0c\n"), &cause), -EINVAL);
	assert_string_equal(cause, "line 1 of git's request holds a NUL byte");
	free(cause);
}

static void
test_git_answer(void **state)
{
	struct secbuf b = { 0 };

	ctlcred_git_answer(&b, CTL_GIT_USERNAME, "tok", 1796169599);
	assert_string_equal(b.data,
	    "username=x-access-token\npassword=tok\npassword_expiry_utc=1796169599\n");
	secbuf_clear(&b);
	ctlcred_git_answer(&b, "deploy", "tok", -1);
	assert_string_equal(b.data, "username=deploy\npassword=tok\n");
	secbuf_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_info),
		cmocka_unit_test(test_exec_info_refused),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_exec_credential),
		cmocka_unit_test(test_git_request_end),
		cmocka_unit_test(test_git_request_check),
		cmocka_unit_test(test_git_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
