#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One message per thread, so that concurrent models do not overwrite each other's errors. */
static _Thread_local char last_error[2048];

const char *kvk_last_error(void) {
    return last_error;
}

void kvk_clear_error(void) {
    last_error[0] = '\0';
}

kvk_status kvk_fail(kvk_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

kvk_status kvk_fail_context(kvk_status status, const char *fmt, ...) {
    char prefix[512], old[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    size_t used = strlen(prefix) < sizeof last_error ? strlen(prefix) : sizeof last_error - 1;
    memcpy(last_error, prefix, used);
    snprintf(last_error + used, sizeof last_error - used, "%.*s", (int)(sizeof last_error - 1),
             old);
    return status;
}

const char *kvk_status_name(kvk_status status) {
    switch (status) {
    case KVK_OK:
        return "KVK_OK";
    case KVK_ERROR_INVALID_ARGUMENT:
        return "KVK_ERROR_INVALID_ARGUMENT";
    case KVK_ERROR_IO:
        return "KVK_ERROR_IO";
    case KVK_ERROR_FORMAT:
        return "KVK_ERROR_FORMAT";
    case KVK_ERROR_SHAPE:
        return "KVK_ERROR_SHAPE";
    case KVK_ERROR_UNSUPPORTED:
        return "KVK_ERROR_UNSUPPORTED";
    case KVK_ERROR_VULKAN:
        return "KVK_ERROR_VULKAN";
    case KVK_ERROR_OUT_OF_MEMORY:
        return "KVK_ERROR_OUT_OF_MEMORY";
    case KVK_ERROR_VALIDATION:
        return "KVK_ERROR_VALIDATION";
    }
    return "KVK_ERROR_UNKNOWN";
}
