/* What the command files of tools/ share (kvk.c defines it). */
#ifndef KVK_TOOLS_CLI_JSON_H
#define KVK_TOOLS_CLI_JSON_H

#include "core/json.h"

/* Prints a JSON document built in memory, whole (--json output is never half written); 0, or
 * 1 with a message. */
int cli_print_json(kvk_json_writer *w);

#endif
