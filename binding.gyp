{
  "variables": {
    "has_zstd%": "<!(node -p \"require('fs').existsSync('/usr/include/zstd.h') ? 1 : 0\")"
  },
  "targets": [
    {
      "target_name": "malloc_tune",
      "sources": ["native/malloc_tune.c"]
    }
  ],
  "conditions": [
    ["has_zstd==1", {
      "targets": [
        {
          "target_name": "strongbox_core",
          "sources": ["native/core.c", "native/tree-scan.c"],
          "cflags": ["-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"],
          "libraries": ["-lzstd"]
        }
      ]
    }]
  ]
}
