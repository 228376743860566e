/* For language bindings that mirror kvk's structures by hand (the Python package's ctypes
 * layer): the size the library was built with, so a binding can refuse a library of another
 * version instead of passing it misshaped structures. */
#ifndef KVK_ABI_H
#define KVK_ABI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* sizeof the public structure of that name ("kvk_context_options", "kvk_model_options",
 * "kvk_image"); 0 for a name the library does not know. */
size_t kvk_struct_size(const char *name);

#ifdef __cplusplus
}
#endif
#endif
