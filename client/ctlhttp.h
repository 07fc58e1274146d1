/*
 * tokenctl's side of the socket API: one HTTP/1.1 request over a Unix
 * socket, answered within a deadline.  Plain blocking code with poll(), no
 * event loop and no libcurl, so that the client stays small.  An answer may
 * carry a token: every buffer that held one is wiped before it is freed.
 */
#ifndef TB_CTLHTTP_H
#define TB_CTLHTTP_H

#include <stddef.h>
#include <stdint.h>

/* The largest answer read, status line and headers included. */
#define CTLHTTP_MAX (1024 * 1024)

struct ctlhttp_answer {
	int status;
	char reason[64];     /* reason phrase, control characters replaced */
	int64_t retry_after; /* seconds from a Retry-After header, or -1 */
	char *body;	     /* decoded body, NUL-terminated; may hold a token */
	size_t bodylen;
};

/*
 * Sends "METHOD PATH" (no request body) to the daemon listening on
 * socket_path and reads its answer, giving up at deadline_ms on the
 * timeutil_mono_ms() clock.  Any complete HTTP answer, whatever its status, is a
 * success: 0 and *ret, which the caller frees with ctlhttp_answer_free().
 * Otherwise -errno and *cause (caller frees), a message that names the
 * socket and never quotes the answer:
 *   -ENAMETOOLONG the path does not fit in sockaddr_un
 *   -ENOENT, -ECONNREFUSED, -EACCES, ...  from socket() or connect()
 *   -EAGAIN       the daemon's listen backlog stayed full until the deadline
 *   -ETIMEDOUT    no complete answer before the deadline
 *   -ECONNRESET   the daemon closed the connection before answering fully
 *   -EBADMSG      the answer is not HTTP/1.x as this client understands it
 *   -EMSGSIZE     the answer is larger than CTLHTTP_MAX
 */
int ctlhttp_request(const char *socket_path, const char *method, const char *path,
    int64_t deadline_ms, struct ctlhttp_answer **ret, char **cause);

/* Wipes and frees an answer; takes NULL; returns NULL. */
struct ctlhttp_answer *ctlhttp_answer_free(struct ctlhttp_answer *a);

#endif
