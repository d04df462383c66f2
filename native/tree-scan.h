#ifndef STRONGBOX_TREE_SCAN_H
#define STRONGBOX_TREE_SCAN_H
#include <node_api.h>

/* scanNodes(data, from, limit, strings, numbers, ranges, k): tree-scan.c. */
napi_value js_scan_nodes(napi_env env, napi_callback_info info);

#endif
