/*
 * What the daemon and the client must agree on, spelled once: the version,
 * where the socket is when nothing says otherwise, and what a credential's
 * name may be (the API's paths and the configuration's sections use it).
 */
#ifndef TB_TOKENBROKER_H
#define TB_TOKENBROKER_H

#include <stdbool.h>

#define TOKENBROKER_VERSION "0.1"
#define TOKENBROKER_SOCKET_DEFAULT "/run/tokenbroker/tokenbroker.sock"
/* A credential's name: 1 to TOKENBROKER_NAME_MAX of [A-Za-z0-9._-]. */
#define TOKENBROKER_NAME_MAX 64

/* Whether name is a valid credential name (see TOKENBROKER_NAME_MAX). */
bool tokenbroker_name_valid(const char *name);

#endif
