// A shader's push-constant block from its list in kvk_params.h, the one definition C uses too.
#include "kvk_params.h"
#define KVK_GLSL_FIELD(name) int name;
#define KVK_PUSH_CONSTANTS(LIST) layout(push_constant) uniform Params { LIST(KVK_GLSL_FIELD) } p;
