#ifndef TB_VERSION_H
#define TB_VERSION_H

#define TOKENBROKER_VERSION "0.1"

#endif
