/*
 * tokenbrokerd --test NAME: one real token request for a credential, and a
 * diagnosis a person can act on.  The token itself is never printed.
 */
#ifndef TB_DIAG_H
#define TB_DIAG_H

#include <stdio.h>

#include "conf.h"

/* Exit status: 0 when a token was obtained, 69 (EX_UNAVAILABLE) if not, 66 unknown name. */
int diag_run(const struct conf *conf, const char *name, FILE *out);

#endif
