/* kvk: Keras Applications inference on Vulkan. Include this one header. */
#ifndef KVK_H
#define KVK_H

#include "kvk/status.h"
#include "kvk/context.h"
#include "kvk/model.h"
#include "kvk/image.h"
#include "kvk/labels.h"
#include "kvk/weights.h"
#include "kvk/abi.h"
#include "kvk/bench.h"

#endif
