#ifndef TB_VERSION_H
#define TB_VERSION_H

/* TOKENBROKER_VERSION lives with the other facts the client shares. */
#include "tokenbroker.h"

#endif
