/*
 * What the pieces of the token endpoint's answer share; nothing but
 * response*.c includes it (the public API is response.h).
 */
#ifndef TB_RESPONSE_INT_H
#define TB_RESPONSE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "response.h"

/* response.c */
bool response_number(const char *s, size_t len, double *ret);

#endif
