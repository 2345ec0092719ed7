{
  "targets": [
    {
      "target_name": "linalg",
      "sources": ["linalg.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"],
      "libraries": ["-lopenblas", "-lpthread", "-lm"]
    }
  ]
}
