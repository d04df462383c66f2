/*
 * Process-wide malloc tuning for glibc. Strongbox's threads allocate and free many
 * large buffers (chunks, sealed blobs, pack ranges). With glibc's default dynamic mmap
 * threshold, after the first large free those buffers come from per-thread arenas,
 * which keep up to 32 MiB each after it is freed. A 1 MiB mmap threshold (until
 * 2026-12) returned every large buffer to the system at once, but then each new one
 * was fresh pages that the kernel had to fault in and zero: 180,000 page faults per
 * 1.5 GiB snapshot. A fixed 9 MiB threshold (a chunk is at most 8 MiB) keeps blobs in
 * the arenas, where the next one reuses their pages, and an 8 MiB trim threshold bounds
 * what an arena keeps: paired runs, 0.94x the CPU time for +6 MiB of peak RSS
 * (docs/PERFORMANCE.md). At most two arenas (glibc allows eight per core): the
 * workers and libuv's threads share them instead of each keeping its own cache
 * of freed blobs. By the time this runs, Node's own threads have made several
 * arenas already; bin/strongbox.js sets MALLOC_ARENA_MAX=2 before the process
 * starts, and this call only stops new ones when Strongbox is started otherwise.
 */
#include <node_api.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static napi_value tune(napi_env env, napi_callback_info info) {
  (void)info;
  int ok = 0;
#ifdef __GLIBC__
  ok = mallopt(M_MMAP_THRESHOLD, 9 << 20) && mallopt(M_TRIM_THRESHOLD, 8 << 20) && mallopt(M_ARENA_MAX, 2);
#endif
  napi_value result;
  napi_get_boolean(env, ok != 0, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "tune", NAPI_AUTO_LENGTH, tune, NULL, &fn);
  napi_set_named_property(env, exports, "tune", fn);
  return exports;
}
