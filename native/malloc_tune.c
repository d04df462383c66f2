/*
 * Process-wide malloc tuning for glibc. Strongbox's threads allocate and free many
 * large buffers (chunks, packs). With glibc's default dynamic mmap threshold, after the
 * first large free those buffers come from per-thread arenas, which keep the memory
 * after it is freed: peak RSS grows by tens of MiB per thread. A fixed 1 MiB mmap
 * threshold returns large buffers to the system as soon as they are freed.
 */
#include <node_api.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static napi_value tune(napi_env env, napi_callback_info info) {
  (void)info;
  int ok = 0;
#ifdef __GLIBC__
  ok = mallopt(M_MMAP_THRESHOLD, 1 << 20) && mallopt(M_TRIM_THRESHOLD, 8 << 20);
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
