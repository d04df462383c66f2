#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-old-space-size=1024 --max-semi-space-size=2 --interrupt-budget=675840
// MALLOC_ARENA_MAX=2 before the process starts: glibc gives each thread that allocates its own
// arena (Node's platform threads, libuv's threads and the workers make six before anything of
// Strongbox runs), and each keeps freed memory. Set here, every thread shares two from the start
// (native/malloc_tune.c can only stop new ones): 7 MiB off the peaks of a first snapshot and of
// a restore of the default dataset at the same time, 1.03x the time on 200,000 small files
// (docs/PERFORMANCE.md). It replaces a MALLOC_ARENA_MAX of the caller's.
// The heap cap makes V8 collect garbage before it piles up: on 200,000 small files peak
// RSS fell from 540 MiB to 360 MiB at the same speed (docs/PERFORMANCE.md). The young
// generation's 2 MiB semi-spaces (V8 reserves up to 16 MiB each) took 20 MiB off a
// snapshot's peak at the same CPU time: the main thread's objects are small.
// A ten times larger interrupt budget than V8's (67,584) makes V8 wait ten times longer before
// it compiles a function with TurboFan. The command's own JavaScript is glue around native
// code, and compiling it in three isolates (the main thread and two workers) on two cores cost
// more than it won back. Paired runs (docs/PERFORMANCE.md, thirteenth session): a first
// snapshot of the default dataset 0.95x the time and 6 MiB less at its peak, an incremental
// 0.96x and 2.5 MiB less, 200,000 small files 0.98x, a restore the same.
// A single directory of more than about half a million entries needs more:
//   node --max-old-space-size=4096 "$(command -v strongbox)" …
import { main } from '../dist/bundle/strongbox.js';

process.exitCode = await main(process.argv);
