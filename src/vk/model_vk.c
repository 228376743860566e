/* The Vulkan backend for one model: weights uploaded once into resident device buffers,
 * activations in one planned arena, and the whole network recorded into one command buffer
 * that every inference re-submits. */
#define _DEFAULT_SOURCE /* madvise */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "vk/model_vk.h"

#include "core/error.h"
#include "core/half.h"
#include "vk/ops/ops.h"
#include "vk/profile.h"

enum { MAX_PIECES = 256 };
#define BLOCK_BYTES ((VkDeviceSize)256 << 20) /* weight buffers: few, and each allocatable */
/* Where device memory is host memory (direct), blocks are made as the upload reaches them:
 * smaller ones, so that the packed weights grow while the host's are freed (SwiftShader
 * zero-fills an allocation, so a block made early is held in full at once). */
#define DIRECT_BLOCK_BYTES ((VkDeviceSize)16 << 20)
#define STAGING_BYTES ((VkDeviceSize)64 << 20)
/* the buffers' names in errors */
#define ARENA_NAME "the activation pool"
#define STAGING_NAME "the weight staging buffer"
#define INPUT_NAME "the input buffer"
#define OUTPUT_NAME "the output buffers"

typedef struct piece {
    int block;
    VkDeviceSize offset, bytes;
    size_t values; /* in the step's weight type */
} piece;

typedef struct step_weights {
    int first, count; /* into vk_state.pieces */
} step_weights;

struct kvk_vk_model {
    kvk_vk_device *dev;
    const kvk_graph *graph;
    const kvk_plan *plan;
    uint64_t max_binding;
    kvk_vk_kernel_override kernels;
    size_t alignment;
    int time_layers;              /* a timestamp after every step (kvk_vk_model_layer_ms) */
    const kvk_vk_kernel **kernel; /* per step: what the op's choose() picked, or NULL */
    const char **variants;        /* per step: the kernel recorded */
    int *order;                   /* the steps in the order their weights are packed */
    kvk_vk_buffer scratch;        /* the largest scratch any step needs */
    kvk_vk_buffer arena, input;
    kvk_vk_buffer outputs[KVK_MAX_OUTPUTS]; /* host-visible, one per model output */
    kvk_vk_buffer *blocks;
    VkDeviceSize *block_sizes; /* planned, block_total of them; block_count made so far */
    int block_count, block_total;
    VkDeviceSize staging_bytes; /* 0 when the weights are written in place (direct) */
    int direct; /* the device shares the host's memory: weights packed into their mapped blocks */
    kvk_vk_memory_plan memory; /* every buffer above, reserved before any is made */
    piece *pieces;
    int piece_count;
    step_weights *steps;
    kvk_vk_recorder rec;
    int pipelines; /* distinct pipelines the recording uses */
    kvk_vk_profile profile;
};
typedef struct kvk_vk_model vk_state;

/* Step i's context for choosing, weights and scratch (no recording fields). */
static kvk_vk_step_ctx step_ctx(const vk_state *s, int i) {
    const kvk_step *step = &s->plan->steps[i];
    return (kvk_vk_step_ctx){.caps = &s->dev->caps,
                             .kernels = &s->kernels,
                             .graph = s->graph,
                             .plan = s->plan,
                             .step = step,
                             .node = &s->graph->nodes[step->node],
                             .kernel = s->kernel[i],
                             .max_binding = s->max_binding,
                             .alignment = s->alignment};
}

static VkDeviceSize align_up(VkDeviceSize x, VkDeviceSize a) {
    return (x + a - 1) / a * a;
}

/* The order the steps' weights are packed in: with device memory in host memory, the
 * process holds the host weights not yet packed plus the packed ones, and Winograd's packed
 * kernels are 1.8-4x their host size, the others about the same, so the others go first,
 * while most host weights are still held (VGG16's peak RSS on lavapipe 1154 -> 985 MiB); else
 * the plan's order. */
static void upload_order(vk_state *s) {
    int n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < s->plan->step_count; i++) {
            int grows = s->kernel[i] && s->kernel[i]->form == KVK_VK_FORM_WINOGRAD;
            if ((s->direct ? grows : 0) == pass) s->order[n++] = i;
        }
}

/* Pass 1: where every piece goes (the blocks filled in upload_order), and the blocks' sizes.
 * Pass 2 (upload_weights) fills them as allocate_weights makes the blocks. */
static kvk_status place_weights(vk_state *s, size_t alignment) {
    const kvk_plan *plan = s->plan;
    uint64_t maxb = s->max_binding;
    size_t floats[MAX_PIECES];
    s->steps = calloc((size_t)plan->step_count, sizeof *s->steps);
    int capacity = 64;
    s->pieces = malloc((size_t)capacity * sizeof *s->pieces);
    VkDeviceSize *block_used = calloc(1, sizeof *block_used);
    if (!s->steps || !s->pieces || !block_used) {
        free(block_used);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    int blocks = 0;
    VkDeviceSize block_cap = s->direct ? DIRECT_BLOCK_BYTES : BLOCK_BYTES;
    upload_order(s);
    for (int o = 0; o < plan->step_count; o++) {
        int i = s->order[o];
        const kvk_step *st = &plan->steps[i];
        const kvk_vk_op *op = kvk_vk_op_for(st->op);
        if (!op->weight_pieces) continue;
        kvk_vk_step_ctx c = step_ctx(s, i);
        int count = op->weight_pieces(&c, floats, MAX_PIECES);
        if (count < 0) {
            free(block_used);
            return kvk_fail(KVK_ERROR_UNSUPPORTED,
                            "layer '%s': its weights cannot be split to fit one buffer binding "
                            "of %llu bytes",
                            s->graph->nodes[st->node].name, (unsigned long long)maxb);
        }
        s->steps[i].first = s->piece_count;
        s->steps[i].count = count;
        for (int k = 0; k < count; k++) {
            VkDeviceSize bytes = floats[k] * kvk_dtype_size(st->weights);
            if (s->piece_count == capacity) {
                capacity *= 2;
                piece *grown = realloc(s->pieces, (size_t)capacity * sizeof *grown);
                if (!grown) {
                    free(block_used);
                    return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
                }
                s->pieces = grown;
            }
            VkDeviceSize at = blocks ? align_up(block_used[blocks - 1], alignment) : 0;
            if (!blocks || (at + bytes > block_cap && at > 0)) {
                VkDeviceSize *grown = realloc(block_used, (size_t)(blocks + 1) * sizeof *grown);
                if (!grown) {
                    free(block_used);
                    return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
                }
                block_used = grown;
                block_used[blocks++] = 0;
                at = 0;
            }
            s->pieces[s->piece_count++] = (piece){blocks - 1, at, bytes, floats[k]};
            block_used[blocks - 1] = at + bytes;
        }
    }
    s->blocks = calloc((size_t)(blocks ? blocks : 1), sizeof *s->blocks);
    if (!s->blocks) {
        free(block_used);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    s->block_sizes = block_used;
    s->block_total = blocks;
    return KVK_OK;
}

/* On a CPU driver or an integrated GPU device memory is host memory: a staging copy would
 * only add its 64 MiB and a second pass over the weights. */
static int shares_host_memory(const kvk_vk_device *dev) {
    return (dev->caps.type == VK_PHYSICAL_DEVICE_TYPE_CPU ||
            dev->caps.type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU) &&
           kvk_vk_memory_type(dev, ~0u, KVK_VK_DEVICE_MAPPED) >= 0;
}

static int weight_memory(const vk_state *s) {
    return s->direct ? KVK_VK_DEVICE_MAPPED : KVK_VK_DEVICE_MEMORY;
}

/* Packs piece k of step i into dst in the step's weight type: the op packs floats, which an
 * fp16 step converts through `tmp` (grown as needed; the caller frees it). */
static kvk_status pack_piece(vk_state *s, int i, int k, void *dst, float **tmp,
                             size_t *tmp_values) {
    kvk_vk_step_ctx c = step_ctx(s, i);
    const kvk_step *step = &s->plan->steps[i];
    const piece *pc = &s->pieces[s->steps[i].first + k];
    const kvk_vk_op *op = kvk_vk_op_for(step->op);
    if (step->weights == KVK_DTYPE_F32) {
        op->weight_pack(&c, k, dst);
        return KVK_OK;
    }
    if (pc->values > *tmp_values) {
        free(*tmp);
        *tmp_values = 0;
        *tmp = malloc(pc->values * sizeof(float));
        if (!*tmp)
            return kvk_fail(KVK_ERROR_OUT_OF_MEMORY,
                            "layer '%s': out of memory converting its "
                            "weights to float16",
                            c.node->name);
        *tmp_values = pc->values;
    }
    op->weight_pack(&c, k, *tmp);
    kvk_halves_from_floats(*tmp, dst, pc->values);
    return KVK_OK;
}

/* Freed host weights go back to the system now, not at exit: glibc keeps freed blocks under
 * its mmap threshold (which grows to 32 MiB) in the heap, so without a trim the process would
 * hold the host and the device copy of most weights at once. */
static void return_freed_memory(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* With `release` (the model's graph): the pages wholly inside the start of step i's kernel
 * that its pieces up to k have packed and later ones will not read (kvk_vk_op.kernel_packed)
 * go back to the system now; the rest with the step (release_host_weights). Where device
 * memory is host memory, VGG16's fc1 (411 MB) is then held twice for one piece at most: its
 * peak RSS on
 * SwiftShader 947 -> 643 MiB, lavapipe 1015 -> 880 MiB. */
static void give_back_packed(vk_state *s, kvk_graph *release, int i, int k) {
#ifdef __linux__
    const kvk_vk_op *op = kvk_vk_op_for(s->plan->steps[i].op);
    if (!release || !op->kernel_packed) return;
    kvk_vk_step_ctx c = step_ctx(s, i);
    size_t floats = op->kernel_packed(&c, k);
    const float *kernel = release->nodes[s->plan->steps[i].node].kernel;
    if (!floats || !kernel) return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = ((uintptr_t)kernel + page - 1) / page * page;
    uintptr_t to = (uintptr_t)(kernel + floats) / page * page;
    /* the kernel's own pages, never read again: the allocator's headers lie outside them */
    if (to > from) madvise((void *)from, to - from, MADV_DONTNEED);
#else
    (void)s, (void)release, (void)i, (void)k;
#endif
}

/* With `release` (the model's graph), step i's host weights are freed once packed. */
static void release_host_weights(vk_state *s, kvk_graph *release, int i) {
    if (!release || !s->steps[i].count) return;
    kvk_graph_free_weights(&release->nodes[s->plan->steps[i].node]);
    return_freed_memory();
}

/* Makes the weight blocks up to and including `last` (all: block_total - 1). */
static kvk_status allocate_weights(vk_state *s, int last) {
    for (int b = s->block_count; b <= last && b < s->block_total; b++) {
        kvk_status st = kvk_vk_buffer_create(s->dev, s->block_sizes[b], weight_memory(s),
                                             "the weights", &s->blocks[b]);
        if (st != KVK_OK) return st;
        s->block_count++;
    }
    return KVK_OK;
}

/* Packs each piece where its block is mapped (s->direct), else into a host-visible staging
 * buffer copied to its block in batches of up to STAGING_BYTES; frees each step's host weights
 * from `release` once packed. */
static kvk_status upload_weights(vk_state *s, kvk_graph *release) {
    kvk_vk_device *dev = s->dev;
    float *tmp = NULL;
    size_t tmp_values = 0;
    if (s->direct) {
        /* in upload_order, each block made when the packing reaches it (SwiftShader's peak
         * RSS: ResNet50 279 -> 261 MiB, VGG16 1239 -> 934 MiB) */
        kvk_status st = KVK_OK;
        for (int o = 0; st == KVK_OK && o < s->plan->step_count; o++) {
            int i = s->order[o];
            for (int k = 0; st == KVK_OK && k < s->steps[i].count; k++) {
                const piece *pc = &s->pieces[s->steps[i].first + k];
                st = allocate_weights(s, pc->block);
                if (st != KVK_OK) break;
                unsigned char *block = s->blocks[pc->block].mapped;
                st = pack_piece(s, i, k, block + pc->offset, &tmp, &tmp_values);
                give_back_packed(s, release, i, k);
            }
            release_host_weights(s, release, i);
        }
        free(tmp);
        return st == KVK_OK ? st : kvk_fail_context(st, "uploading weights: ");
    }
    VkDeviceSize cap = s->staging_bytes;
    if (!cap) return KVK_OK;
    kvk_vk_buffer staging;
    kvk_status st = kvk_vk_buffer_create(dev, cap, 0, STAGING_NAME, &staging);
    if (st != KVK_OK) return st;
    kvk_vk_commands commands;
    st = kvk_vk_commands_create(dev, &commands);
    VkCommandBuffer cmd = commands.cmd;
    VkDeviceSize used = 0;
    int begun = 0;
    for (int i = 0; st == KVK_OK && i < s->plan->step_count; i++) {
        for (int k = 0; st == KVK_OK && k < s->steps[i].count; k++) {
            const piece *pc = &s->pieces[s->steps[i].first + k];
            if (begun && used + pc->bytes > cap) { /* flush */
                st = kvk_vk_check(dev->vkd.vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
                if (st == KVK_OK) st = kvk_vk_submit_wait(dev, cmd);
                dev->vkd.vkResetCommandBuffer(cmd, 0);
                begun = 0;
                used = 0;
                if (st != KVK_OK) break;
            }
            if (!begun) {
                VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                               .flags =
                                                   VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
                st = kvk_vk_check(dev->vkd.vkBeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer");
                begun = 1;
            }
            if (st == KVK_OK)
                st = pack_piece(s, i, k, (unsigned char *)staging.mapped + used, &tmp, &tmp_values);
            if (st != KVK_OK) break;
            give_back_packed(s, release, i, k);
            VkBufferCopy region = {used, pc->offset, pc->bytes};
            dev->vkd.vkCmdCopyBuffer(cmd, staging.buffer, s->blocks[pc->block].buffer, 1, &region);
            used = align_up(used + pc->bytes, 16);
        }
        release_host_weights(s, release, i);
    }
    if (st == KVK_OK && begun) {
        st = kvk_vk_check(dev->vkd.vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
        if (st == KVK_OK) st = kvk_vk_submit_wait(dev, cmd);
    }
    kvk_vk_commands_destroy(dev, &commands);
    kvk_vk_buffer_destroy(dev, &staging);
    free(tmp);
    return st == KVK_OK ? st : kvk_fail_context(st, "uploading weights: ");
}

static kvk_vk_binding tensor_binding(const vk_state *s, const kvk_plan *p, int t) {
    return kvk_vk_range(s->arena.buffer, p->tensors[t].offset, p->tensors[t].bytes);
}

/* Step i's recording context on `rec`. */
static kvk_vk_step_ctx record_ctx(vk_state *s, int i, kvk_vk_recorder *rec,
                                  kvk_vk_binding *weights) {
    const kvk_plan *plan = s->plan;
    const kvk_step *step = &plan->steps[i];
    kvk_vk_step_ctx c = step_ctx(s, i);
    c.rec = rec;
    c.output = tensor_binding(s, plan, step->output);
    c.weights = weights;
    c.weight_count = s->steps[i].count;
    c.scratch = kvk_vk_range(s->scratch.buffer, 0, s->scratch.size);
    c.chosen = &s->variants[i];
    for (int k = 0; k < step->input_count; k++)
        c.inputs[k] = tensor_binding(s, plan, step->inputs[k]);
    for (int k = 0; k < s->steps[i].count; k++) {
        const piece *pc = &s->pieces[s->steps[i].first + k];
        weights[k] = kvk_vk_range(s->blocks[pc->block].buffer, pc->offset, pc->bytes);
    }
    return c;
}

/* Every pipeline the network will use, compiled on several threads before it is recorded
 * (the recording would compile them one by one): on 2 cores, lavapipe's InceptionV3 loads in
 * 1.11 s instead of 1.50 s, SwiftShader's ResNet50 in 4.32 s instead of 5.17 s. */
static kvk_status prepare_pipelines(vk_state *s) {
    kvk_vk_recorder collect;
    kvk_vk_recorder_collect(s->dev, &collect);
    kvk_vk_binding weights[MAX_PIECES];
    kvk_status st = KVK_OK;
    for (int i = 0; i < s->plan->step_count && st == KVK_OK; i++) {
        kvk_vk_step_ctx c = record_ctx(s, i, &collect, weights);
        st = kvk_vk_op_for(s->plan->steps[i].op)->record(&c);
    }
    if (st == KVK_OK) st = kvk_vk_pipelines_prepare(s->dev, collect.wanted, collect.wanted_count);
    s->pipelines = collect.wanted_count;
    kvk_vk_recorder_free(&collect);
    return st;
}

static kvk_status record_network(vk_state *s) {
    const kvk_plan *plan = s->plan;
    kvk_status st = kvk_vk_recorder_begin(s->dev, &s->rec);
    if (st != KVK_OK) return st;
    s->rec.serial = s->time_layers; /* one step at a time between its timestamps */
    const kvk_tensor *in = &plan->tensors[plan->input_tensor];
    VkBufferCopy up = {0, in->offset, s->input.size};
    s->dev->vkd.vkCmdCopyBuffer(s->rec.cmd, s->input.buffer, s->arena.buffer, 1, &up);
    kvk_vk_barrier(&s->rec);
    st = kvk_vk_profile_begin(&s->profile, s->dev, s->rec.cmd, plan->step_count, s->time_layers);
    kvk_vk_binding weights[MAX_PIECES];
    for (int i = 0; i < plan->step_count && st == KVK_OK; i++) {
        kvk_vk_step_ctx c = record_ctx(s, i, &s->rec, weights);
        st = kvk_vk_op_for(plan->steps[i].op)->record(&c);
        kvk_vk_profile_mark(&s->profile, s->rec.cmd, i);
    }
    if (st != KVK_OK) return st;
    kvk_vk_barrier(&s->rec); /* the copies read what the last dispatches wrote */
    for (int k = 0; k < plan->output_count; k++) {
        VkBufferCopy down = {plan->tensors[plan->output_tensors[k]].offset, 0, s->outputs[k].size};
        s->dev->vkd.vkCmdCopyBuffer(s->rec.cmd, s->arena.buffer, s->outputs[k].buffer, 1, &down);
    }
    /* make the copy visible to the host's reads after the fence */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    s->dev->vkd.vkCmdPipelineBarrier(s->rec.cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                     VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    return kvk_vk_recorder_end(&s->rec);
}

/* Every buffer the model will make, for kvk_vk_memory_reserve. */
static kvk_status plan_memory(vk_state *s, VkDeviceSize scratch_bytes, VkDeviceSize input_bytes,
                              const VkDeviceSize *output_bytes) {
    VkDeviceSize largest = 0, total = 0;
    for (int i = 0; i < s->piece_count; i++) {
        if (s->pieces[i].bytes > largest) largest = s->pieces[i].bytes;
        total += align_up(s->pieces[i].bytes, 16);
    }
    /* one batch of uploads at a time: no more than the weights, no less than their largest */
    s->staging_bytes = total < STAGING_BYTES ? total : STAGING_BYTES;
    if (largest > s->staging_bytes) s->staging_bytes = largest;
    if (s->direct) s->staging_bytes = 0;
    kvk_vk_memory_plan *m = &s->memory;
    for (int b = 0; b < s->block_total; b++)
        kvk_vk_memory_plan_add(m, "the weights", s->block_sizes[b], weight_memory(s));
    char arena[64];
    snprintf(arena, sizeof arena, "%s (%d image%s per submission)", ARENA_NAME, s->plan->batch,
             s->plan->batch == 1 ? "" : "s");
    kvk_vk_memory_plan_add(m, arena, s->plan->arena_bytes, 1);
    if (scratch_bytes) kvk_vk_memory_plan_add(m, "the scratch buffer", scratch_bytes, 1);
    if (s->staging_bytes) kvk_vk_memory_plan_add(m, STAGING_NAME, s->staging_bytes, 0);
    kvk_vk_memory_plan_add(m, INPUT_NAME, input_bytes, 0);
    for (int k = 0; k < s->plan->output_count; k++)
        kvk_vk_memory_plan_add(m, OUTPUT_NAME, output_bytes[k], 0);
    return KVK_OK;
}

/* Kernels that decide a step's weight layout are chosen first; the scratch buffer is sized for
 * the step that needs most (s->scratch.size, allocated later). */
static kvk_status choose_kernels(vk_state *s) {
    for (int i = 0; i < s->plan->step_count; i++) {
        const kvk_vk_op *op = kvk_vk_op_for(s->plan->steps[i].op);
        kvk_vk_step_ctx c = step_ctx(s, i);
        if (op->choose) s->kernel[i] = c.kernel = op->choose(&c);
        if (op->choose && !c.kernel)
            return kvk_fail(KVK_ERROR_UNSUPPORTED, "layer '%s': no kernel variant fits",
                            c.node->name);
        uint64_t bytes = op->scratch_bytes ? op->scratch_bytes(&c) : 0;
        if (bytes > s->scratch.size) s->scratch.size = bytes;
    }
    return KVK_OK;
}

/* Every step's op has an entry, and the entry runs the step's tensor types. */
static kvk_status check_support(const kvk_graph *g, const kvk_plan *p) {
    for (int i = 0; i < p->step_count; i++) {
        const kvk_step *st = &p->steps[i];
        const kvk_node *n = &g->nodes[st->node];
        const kvk_vk_op *op = kvk_vk_op_for(st->op);
        if (!op)
            return kvk_fail(KVK_ERROR_UNSUPPORTED, "layer '%s': %s has no Vulkan implementation",
                            n->name, kvk_op_name(st->op));
        int tensors[3] = {st->output, st->inputs[0], st->inputs[1]};
        for (int k = 0; k <= st->input_count; k++) {
            kvk_dtype t = p->tensors[tensors[k]].dtype;
            if (!(op->dtypes & KVK_DTYPE_BIT(t)))
                return kvk_fail(KVK_ERROR_UNSUPPORTED,
                                "layer '%s': the Vulkan %s kernels do not run %s tensors", n->name,
                                kvk_op_name(st->op), kvk_dtype_name(t));
        }
        if (op->weight_pieces && !kvk_vk_op_reads_weights(st->op, st->weights))
            return kvk_fail(KVK_ERROR_UNSUPPORTED,
                            "layer '%s': the Vulkan %s kernels do not read %s weights", n->name,
                            kvk_op_name(st->op), kvk_dtype_name(st->weights));
    }
    return KVK_OK;
}

kvk_status kvk_vk_model_create(kvk_vk_device *dev, kvk_graph *graph, const kvk_plan *p,
                               const kvk_vk_model_options *o, kvk_vk_model **out) {
    *out = NULL;
    kvk_status st = check_support(graph, p);
    if (st != KVK_OK) return st;
    vk_state *s = calloc(1, sizeof *s);
    if (!s) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    s->dev = dev;
    s->graph = graph;
    s->plan = p;
    s->max_binding = o->max_binding;
    if (o->kernels) s->kernels = *o->kernels;
    s->alignment = o->alignment;
    s->time_layers = o->time_layers;
    s->direct = shares_host_memory(dev) && !o->staging_upload;
    size_t steps = (size_t)(p->step_count ? p->step_count : 1);
    s->variants = calloc(steps, sizeof *s->variants);
    s->kernel = calloc(steps, sizeof *s->kernel);
    s->order = calloc(steps, sizeof *s->order);
    if (!s->variants || !s->kernel || !s->order)
        st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    if (st == KVK_OK) st = choose_kernels(s);
    if (st == KVK_OK) st = place_weights(s, o->alignment);
    VkDeviceSize scratch_bytes = s->scratch.size;
    VkDeviceSize input_bytes =
        (VkDeviceSize)p->batch * kvk_shape_size(p->tensors[p->input_tensor].shape) * sizeof(float);
    VkDeviceSize output_bytes[KVK_MAX_OUTPUTS];
    for (int k = 0; k < p->output_count; k++)
        output_bytes[k] = (VkDeviceSize)p->batch *
                          kvk_shape_size(p->tensors[p->output_tensors[k]].shape) * sizeof(float);
    if (st == KVK_OK) st = plan_memory(s, scratch_bytes, input_bytes, output_bytes);
    if (st == KVK_OK)
        st =
            kvk_vk_memory_reserve(dev, &s->memory, o->label ? o->label : "the model", o->too_large);
    /* the pipelines before the weights: SwiftShader's compiler frees most of what it used,
     * which then does not add to the upload's peak (peak RSS: ResNet50 261 -> 217 MiB,
     * Xception 217 -> 164; lavapipe holds on to it: VGG16's 985 -> 1032 MiB, the others
     * unchanged); and a pipeline that fails, fails before the upload */
    if (st == KVK_OK) st = prepare_pipelines(s);
    return_freed_memory();
    if (st == KVK_OK && !s->direct) st = allocate_weights(s, s->block_total - 1);
    if (st == KVK_OK) st = upload_weights(s, o->release_host_weights ? graph : NULL);
    kvk_vk_memory_release_one(dev, &s->memory, STAGING_NAME); /* freed by upload_weights */
    if (st == KVK_OK) st = kvk_vk_buffer_create(dev, p->arena_bytes, 1, ARENA_NAME, &s->arena);
    if (st == KVK_OK && scratch_bytes)
        st = kvk_vk_buffer_create(dev, scratch_bytes, 1, "the scratch buffer", &s->scratch);
    if (st == KVK_OK) st = kvk_vk_buffer_create(dev, input_bytes, 0, INPUT_NAME, &s->input);
    for (int k = 0; k < p->output_count && st == KVK_OK; k++)
        st = kvk_vk_buffer_create(dev, output_bytes[k], 0, OUTPUT_NAME, &s->outputs[k]);
    if (st == KVK_OK) st = record_network(s);
    return_freed_memory();
    if (st == KVK_OK) kvk_vk_pipeline_cache_save(dev);
    if (st != KVK_OK) {
        kvk_vk_model_destroy(s);
        return st;
    }
    *out = s;
    return KVK_OK;
}

void kvk_vk_model_recording(const kvk_vk_model *m, int *dispatches, int *barriers, int *pipelines) {
    *dispatches = m->rec.dispatches;
    *barriers = m->rec.barriers;
    *pipelines = m->pipelines;
}

const char *kvk_vk_model_step_kernel(const kvk_vk_model *m, int index) {
    return index >= 0 && index < m->plan->step_count ? m->variants[index] : NULL;
}

int kvk_vk_model_layer_ms(const kvk_vk_model *m, int index, double *ms) {
    return kvk_vk_profile_step_ms(&m->profile, index, ms);
}

void kvk_vk_model_layer_times_reset(kvk_vk_model *m) {
    kvk_vk_profile_reset(&m->profile);
}

kvk_status kvk_vk_model_run(kvk_vk_model *s, const float *input, int batch, float *const *outputs) {
    const kvk_plan *p = s->plan;
    int chunk = p->batch;
    long in_size = kvk_shape_size(p->tensors[p->input_tensor].shape);
    for (int done = 0; done < batch; done += chunk) {
        int n = batch - done < chunk ? batch - done : chunk;
        /* a short last chunk still runs the recorded batch; the rows past n are ignored */
        memcpy(s->input.mapped, input + (long)done * in_size,
               sizeof(float) * (size_t)(n * in_size));
        if (n < chunk)
            memset((float *)s->input.mapped + (long)n * in_size, 0,
                   sizeof(float) * (size_t)((chunk - n) * in_size));
        kvk_status st = kvk_vk_submit_wait(s->dev, s->rec.cmd);
        if (st != KVK_OK) return st;
        kvk_vk_profile_collect(&s->profile);
        for (int k = 0; k < p->output_count; k++) {
            long out_size = kvk_shape_size(p->tensors[p->output_tensors[k]].shape);
            memcpy(outputs[k] + (long)done * out_size, s->outputs[k].mapped,
                   sizeof(float) * (size_t)(n * out_size));
        }
    }
    return KVK_OK;
}

void kvk_vk_model_destroy(kvk_vk_model *s) {
    if (!s) return;
    kvk_vk_device *dev = s->dev;
    kvk_vk_wait_idle(dev);
    kvk_vk_profile_report(&s->profile, s->graph, s->plan);
    kvk_vk_recorder_free(&s->rec);
    for (int b = 0; b < s->block_count; b++) kvk_vk_buffer_destroy(dev, &s->blocks[b]);
    kvk_vk_buffer_destroy(dev, &s->arena);
    kvk_vk_buffer_destroy(dev, &s->scratch);
    kvk_vk_buffer_destroy(dev, &s->input);
    for (int k = 0; k < KVK_MAX_OUTPUTS; k++) kvk_vk_buffer_destroy(dev, &s->outputs[k]);
    kvk_vk_memory_release(dev, &s->memory);
    free(s->blocks);
    free(s->block_sizes);
    free(s->pieces);
    free(s->steps);
    free(s->variants);
    free(s->kernel);
    free(s->order);
    free(s);
}
