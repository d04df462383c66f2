{
  "targets": [
    {
      "target_name": "malloc_tune",
      "sources": ["native/malloc_tune.c"]
    }
  ]
}
