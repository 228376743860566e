/* Command buffers and the queue. Each command buffer has its own pool, so recording on one
 * thread never touches a pool another thread records with; the one queue of a device is taken
 * under its lock for each submission, and the wait for the fence happens outside it, so models
 * of one context run their inferences at the same time. */
#include "core/error.h"
#include "vk/vk.h"

kvk_status kvk_vk_commands_create(kvk_vk_device *dev, kvk_vk_commands *out) {
    out->pool = VK_NULL_HANDLE;
    out->cmd = VK_NULL_HANDLE;
    VkCommandPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                  .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                  .queueFamilyIndex = dev->queue_family};
    kvk_status st = kvk_vk_check(dev->vkd.vkCreateCommandPool(dev->device, &pi, NULL, &out->pool),
                                 "vkCreateCommandPool");
    if (st != KVK_OK) return st;
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = out->pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    st = kvk_vk_check(dev->vkd.vkAllocateCommandBuffers(dev->device, &ai, &out->cmd),
                      "vkAllocateCommandBuffers");
    if (st != KVK_OK) kvk_vk_commands_destroy(dev, out);
    return st;
}

void kvk_vk_commands_destroy(kvk_vk_device *dev, kvk_vk_commands *c) {
    /* destroying the pool frees its command buffer */
    if (c->pool) dev->vkd.vkDestroyCommandPool(dev->device, c->pool, NULL);
    c->pool = VK_NULL_HANDLE;
    c->cmd = VK_NULL_HANDLE;
}

kvk_status kvk_vk_submit_wait(kvk_vk_device *dev, VkCommandBuffer cmd) {
    VkFence fence;
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    kvk_status st =
        kvk_vk_check(dev->vkd.vkCreateFence(dev->device, &fi, NULL, &fence), "vkCreateFence");
    if (st != KVK_OK) return st;
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd};
    pthread_mutex_lock(&dev->queue_lock);
    VkResult r = dev->vkd.vkQueueSubmit(dev->queue, 1, &submit, fence);
    pthread_mutex_unlock(&dev->queue_lock);
    st = kvk_vk_check(r, "vkQueueSubmit");
    if (st == KVK_OK)
        st = kvk_vk_check(dev->vkd.vkWaitForFences(dev->device, 1, &fence, VK_TRUE, UINT64_MAX),
                          "vkWaitForFences");
    dev->vkd.vkDestroyFence(dev->device, fence, NULL);
    return st;
}

void kvk_vk_wait_idle(kvk_vk_device *dev) {
    pthread_mutex_lock(&dev->queue_lock);
    dev->vkd.vkDeviceWaitIdle(dev->device);
    pthread_mutex_unlock(&dev->queue_lock);
}
