/* Internal error reporting: every failing function records one message naming what was at
 * fault (file, layer, shape or value) and returns a status code. */
#ifndef KVK_CORE_ERROR_H
#define KVK_CORE_ERROR_H

#include "kvk/status.h"

#if defined(__GNUC__)
#define KVK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define KVK_PRINTF(a, b)
#endif

/* Records a message for kvk_last_error() and returns `status`, so that callers can write
 * `return kvk_fail(KVK_ERROR_IO, "cannot open %s", path);`. */
kvk_status kvk_fail(kvk_status status, const char *fmt, ...) KVK_PRINTF(2, 3);

/* Prepends context ("loading fc1: ") to the current message, keeping its status. */
kvk_status kvk_fail_context(kvk_status status, const char *fmt, ...) KVK_PRINTF(2, 3);

void kvk_clear_error(void);

#endif
