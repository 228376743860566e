/* The recorder's barrier decisions (src/vk/hazards.c), without a device: named cases, then
 * random sequences of dispatches against a byte-by-byte model of what each touched. The model
 * tests' synchronization validation checks the same decisions on real recordings. */
#include "testutil.h"

#include "vk/vk.h"

#define BUFFER(n) ((VkBuffer)(uintptr_t)(n))

static kvk_vk_binding bind(int buffer, VkDeviceSize offset, VkDeviceSize range) {
    return kvk_vk_range(BUFFER(buffer), offset, range);
}

/* A dispatch reading binding 0 and writing binding 1 after one pending access. */
static int after(kvk_vk_access pending, kvk_vk_binding read, kvk_vk_binding write) {
    kvk_vk_binding b[2] = {read, write};
    return kvk_vk_hazard(&pending, 1, b, 2, 1u << 1);
}

static void named_cases(void) {
    kvk_vk_access wrote = {BUFFER(1), 256, 512, 1}, read = {BUFFER(1), 256, 512, 0};
    kvk_vk_binding elsewhere = bind(2, 0, 1024);
    tu_check(after(wrote, bind(1, 0, 300), elsewhere), "read after write, overlapping");
    tu_check(!after(wrote, bind(1, 0, 256), elsewhere), "read after write, touching ends");
    tu_check(!after(wrote, bind(1, 512, 64), elsewhere), "read just past the write");
    tu_check(!after(wrote, bind(2, 256, 256), bind(3, 0, 64)), "other buffers");
    tu_check(!after(read, bind(1, 0, 1024), elsewhere), "read after read");
    tu_check(after(read, elsewhere, bind(1, 500, 4)), "write after read");
    tu_check(after(wrote, elsewhere, bind(1, 300, 4)), "write after write");
    tu_check(after(wrote, bind(1, 0, VK_WHOLE_SIZE), elsewhere), "whole-buffer read");
    kvk_vk_access whole = {BUFFER(1), 4096, VK_WHOLE_SIZE, 1};
    tu_check(after(whole, bind(1, 1u << 30, 4), elsewhere), "after a whole-buffer write");
    tu_check(!after(whole, bind(1, 0, 4096), elsewhere), "before a whole-buffer write's offset");

    kvk_vk_access list[KVK_VK_MAX_PENDING];
    int n = 0;
    for (int i = 0; i < KVK_VK_MAX_PENDING / 2; i++) {
        kvk_vk_binding b[2] = {bind(100 + i, 0, 16), bind(200 + i, 0, 16)};
        tu_check(!kvk_vk_hazard(list, n, b, 2, 2u), "independent dispatch %d", i);
        n = kvk_vk_accesses_add(list, n, b, 2, 2u);
    }
    tu_check(n == KVK_VK_MAX_PENDING, "the list holds %d accesses", n);
    kvk_vk_binding one = bind(999, 0, 16);
    tu_check(kvk_vk_hazard(list, n, &one, 1, 0), "a full list asks for a barrier");
    tu_check(list[0].written == 0 && list[1].written == 1 && list[1].end == 16,
             "accesses recorded with their written bit and end");
}

/* Dispatches of 1 to 4 bindings over 3 buffers of 64 bytes; the model keeps, per byte,
 * whether it was read or written since the last barrier. */
static void random_sequences(void) {
    enum { BUFFERS = 3, BYTES = 64 };
    int cases = 0, barriers = 0;
    for (int seq = 0; seq < 2000; seq++) {
        kvk_vk_access list[KVK_VK_MAX_PENDING];
        int n = 0;
        unsigned char touched[BUFFERS][BYTES] = {{0}}; /* 1 read, 2 written */
        for (int d = 0; d < 12; d++) {
            int count = tu_randint(1, 4);
            uint32_t written = (uint32_t)tu_randint(0, 15);
            kvk_vk_binding b[4];
            int expect = 0;
            for (int i = 0; i < count; i++) {
                int buf = tu_randint(0, BUFFERS - 1), at = tu_randint(0, BYTES - 1);
                int whole = tu_randint(0, 9) == 0, len = tu_randint(1, BYTES - at);
                b[i] = bind(buf + 1, (VkDeviceSize)at, whole ? VK_WHOLE_SIZE : (VkDeviceSize)len);
                int end = whole ? BYTES : at + len;
                for (int x = at; x < end; x++)
                    if (touched[buf][x] == 2 || (touched[buf][x] && (written >> i & 1u)))
                        expect = 1;
            }
            int got = kvk_vk_hazard(list, n, b, count, written);
            if (!tu_check(got == expect, "sequence %d, dispatch %d: barrier %d, the model says %d",
                          seq, d, got, expect))
                return;
            cases++;
            if (got) {
                barriers++;
                n = 0;
                memset(touched, 0, sizeof touched);
            }
            n = kvk_vk_accesses_add(list, n, b, count, written);
            for (int i = 0; i < count; i++) {
                int buf = (int)(uintptr_t)b[i].buffer - 1, at = (int)b[i].offset;
                int end = b[i].range == VK_WHOLE_SIZE ? BYTES : at + (int)b[i].range;
                for (int x = at; x < end; x++)
                    if (touched[buf][x] < 1 + (int)(written >> i & 1u))
                        touched[buf][x] = (unsigned char)(1 + (written >> i & 1u));
            }
        }
    }
    printf("%d random dispatches, %d barriers\n", cases, barriers);
    tu_check(barriers > 0 && barriers < cases, "both decisions were exercised");
}

int main(void) {
    tu_seed();
    named_cases();
    random_sequences();
    return tu_finish();
}
