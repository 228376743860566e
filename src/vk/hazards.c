/* Which dispatches need a barrier before them (see kvk_vk_hazard in vk.h). Plain logic over
 * byte ranges, no Vulkan calls, so tests/unit/test_hazards.c checks it without a device. */
#include "vk/vk.h"

static VkDeviceSize end_of(const kvk_vk_binding *b) {
    return b->range == VK_WHOLE_SIZE ? VK_WHOLE_SIZE : b->offset + b->range;
}

static int overlaps(const kvk_vk_access *a, const kvk_vk_binding *b) {
    return a->buffer == b->buffer && a->begin < end_of(b) && b->offset < a->end;
}

int kvk_vk_hazard(const kvk_vk_access *pending, int pending_count, const kvk_vk_binding *bindings,
                  int count, uint32_t written) {
    if (pending_count + count > KVK_VK_MAX_PENDING) return 1;
    for (int i = 0; i < count; i++)
        for (int k = 0; k < pending_count; k++)
            if (overlaps(&pending[k], &bindings[i]) && (pending[k].written || (written >> i & 1u)))
                return 1;
    return 0;
}

int kvk_vk_accesses_add(kvk_vk_access *pending, int pending_count, const kvk_vk_binding *bindings,
                        int count, uint32_t written) {
    for (int i = 0; i < count && pending_count < KVK_VK_MAX_PENDING; i++)
        pending[pending_count++] = (kvk_vk_access){bindings[i].buffer, bindings[i].offset,
                                                   end_of(&bindings[i]), (int)(written >> i & 1u)};
    return pending_count;
}
