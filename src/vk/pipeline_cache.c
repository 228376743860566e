/* The Vulkan pipeline cache kept across runs, in $XDG_CACHE_HOME/kvk/ (default ~/.cache/kvk/),
 * one file per vendor, device and driver version. The file is not trusted: only a regular
 * file is read (a directory, FIFO, device or link to one in its place is ignored, never
 * waited on), at most KVK_PIPELINE_CACHE_MAX_BYTES of it, and its header
 * (VkPipelineCacheHeaderVersionOne: length, version, vendor and device ID, cache UUID) must
 * be this device's before the data reach the driver. A path that does not fit is no cache,
 * not a truncated path. Every such case costs only the cache; --verbose says why. Saving
 * writes a temporary file and renames it over the old one, so readers never see half a
 * file. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "vk/vk.h"

#define KVK_PIPELINE_CACHE_MAX_BYTES ((size_t)256 << 20)

static void note(const kvk_vk_device *dev, const char *what, const char *detail) {
    if (dev->verbose)
        fprintf(stderr, "kvk: pipeline cache %s: %s\n", what[0] ? what : "(no path)", detail);
}

/* dev->cache_path, or "" (no cache) with the reason under --verbose. */
static void cache_file_path(kvk_vk_device *dev) {
    dev->cache_path[0] = '\0';
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[sizeof dev->cache_path];
    int n;
    if (xdg && *xdg)
        n = snprintf(dir, sizeof dir, "%s/kvk", xdg);
    else if (home && *home)
        n = snprintf(dir, sizeof dir, "%s/.cache/kvk", home);
    else {
        note(dev, "", "neither XDG_CACHE_HOME nor HOME is set: no pipeline cache");
        return;
    }
    char path[sizeof dev->cache_path];
    int m = n < 0 || (size_t)n >= sizeof dir
                ? -1
                : snprintf(path, sizeof path, "%s/pipelines-%04x-%04x-%08x.bin", dir,
                           dev->props.vendorID, dev->props.deviceID, dev->props.driverVersion);
    if (m < 0 || (size_t)m + sizeof ".4294967295.tmp" > sizeof path) {
        note(dev, xdg && *xdg ? xdg : home, "the cache path is too long: no pipeline cache");
        return;
    }
    /* create the directory and its parent; failures only cost the cache */
    char parent[sizeof dir];
    memcpy(parent, dir, sizeof parent);
    char *slash = strrchr(parent, '/');
    if (slash) *slash = '\0', mkdir(parent, 0755);
    mkdir(dir, 0755);
    memcpy(dev->cache_path, path, sizeof path);
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads the cache file into *data and *size if it is a regular file of acceptable size whose
 * header is this device's; otherwise leaves *size 0 (saying why under --verbose). */
static void read_cache_file(const kvk_vk_device *dev, void **data, size_t *size) {
    const char *path = dev->cache_path;
    *data = NULL;
    *size = 0;
    /* non-blocking: a FIFO without a writer must not hang the open */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) note(dev, path, strerror(errno));
        return;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        note(dev, path, "not a regular file: ignored");
        close(fd);
        return;
    }
    if ((unsigned long long)sb.st_size > KVK_PIPELINE_CACHE_MAX_BYTES) {
        char msg[128];
        snprintf(msg, sizeof msg, "%lld bytes, more than the %zu MiB a cache may have: ignored",
                 (long long)sb.st_size, KVK_PIPELINE_CACHE_MAX_BYTES >> 20);
        note(dev, path, msg);
        close(fd);
        return;
    }
    size_t want = (size_t)sb.st_size, got = 0;
    unsigned char *buf = want ? malloc(want) : NULL;
    while (buf && got < want) {
        ssize_t r = read(fd, buf + got, want - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf || got != want) {
        note(dev, path, want ? "cannot be read whole: ignored" : "empty: ignored");
        free(buf);
        return;
    }
    /* VkPipelineCacheHeaderVersionOne, least significant byte first whatever the host */
    const char *why = NULL;
    if (want < 32)
        why = "shorter than a pipeline cache header: ignored";
    else if (le32(buf) < 32 || le32(buf) > want)
        why = "its header length is wrong: ignored";
    else if (le32(buf + 4) != VK_PIPELINE_CACHE_HEADER_VERSION_ONE)
        why = "unknown header version: ignored";
    else if (le32(buf + 8) != dev->props.vendorID || le32(buf + 12) != dev->props.deviceID ||
             memcmp(buf + 16, dev->props.pipelineCacheUUID, VK_UUID_SIZE) != 0)
        why = "written by another device or driver: ignored";
    if (why) {
        note(dev, path, why);
        free(buf);
        return;
    }
    *data = buf;
    *size = want;
}

kvk_status kvk_vk_pipeline_cache_create(kvk_vk_device *dev) {
    cache_file_path(dev);
    void *data = NULL;
    size_t size = 0;
    if (dev->cache_path[0]) read_cache_file(dev, &data, &size);
    VkPipelineCacheCreateInfo info = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                      .initialDataSize = size,
                                      .pInitialData = size ? data : NULL};
    VkResult r = dev->vkd.vkCreatePipelineCache(dev->device, &info, NULL, &dev->pipeline_cache);
    if (r != VK_SUCCESS && size) { /* the driver refused the data: start empty */
        note(dev, dev->cache_path, "refused by the driver: ignored");
        info.initialDataSize = 0;
        info.pInitialData = NULL;
        r = dev->vkd.vkCreatePipelineCache(dev->device, &info, NULL, &dev->pipeline_cache);
    } else if (size && dev->verbose) {
        fprintf(stderr, "kvk: pipeline cache %s: %zu bytes loaded\n", dev->cache_path, size);
    }
    free(data);
    return kvk_vk_check(r, "vkCreatePipelineCache");
}

void kvk_vk_pipeline_cache_save(kvk_vk_device *dev) {
    if (!dev->pipeline_cache || !dev->cache_path[0]) return;
    size_t size = 0;
    if (dev->vkd.vkGetPipelineCacheData(dev->device, dev->pipeline_cache, &size, NULL) !=
            VK_SUCCESS ||
        size == 0 || size > KVK_PIPELINE_CACHE_MAX_BYTES)
        return;
    void *data = malloc(size);
    if (!data) return;
    if (dev->vkd.vkGetPipelineCacheData(dev->device, dev->pipeline_cache, &size, data) ==
        VK_SUCCESS) {
        /* write to a temporary name, then rename: concurrent processes never see half a file;
         * the name is the process's and a count, as contexts on several threads save too */
        static _Atomic unsigned saves;
        char tmp[sizeof dev->cache_path + 32];
        snprintf(tmp, sizeof tmp, "%s.%ld.%u.tmp", dev->cache_path, (long)getpid(),
                 atomic_fetch_add(&saves, 1));
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd >= 0) {
            size_t done = 0;
            while (done < size) {
                ssize_t w = write(fd, (const char *)data + done, size - done);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) break;
                done += (size_t)w;
            }
            int ok = done == size;
            ok &= close(fd) == 0;
            if (!ok || rename(tmp, dev->cache_path) != 0) {
                note(dev, dev->cache_path, "cannot be written: not saved");
                remove(tmp);
            }
        } else {
            note(dev, tmp, strerror(errno));
        }
    }
    free(data);
}
