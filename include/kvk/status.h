/* Status codes and error messages shared by every kvk call. */
#ifndef KVK_STATUS_H
#define KVK_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kvk_status {
    KVK_OK = 0,
    KVK_ERROR_INVALID_ARGUMENT, /* a caller-supplied value is out of range */
    KVK_ERROR_IO,               /* a file could not be opened or read */
    KVK_ERROR_FORMAT,           /* a file was read but its contents are not what kvk expects */
    KVK_ERROR_SHAPE,            /* weights or inputs do not fit the network */
    KVK_ERROR_UNSUPPORTED,      /* valid input that kvk does not handle (yet) */
    KVK_ERROR_VULKAN,           /* the Vulkan driver failed or lacks a needed capability */
    KVK_ERROR_OUT_OF_MEMORY,
    KVK_ERROR_VALIDATION /* the Vulkan validation layer reported a problem */
} kvk_status;

/* The message of the last failed call on this thread; "" if none. Always a valid string. */
const char *kvk_last_error(void);

/* A short constant name for a status code ("KVK_ERROR_SHAPE"). */
const char *kvk_status_name(kvk_status status);

#ifdef __cplusplus
}
#endif
#endif
