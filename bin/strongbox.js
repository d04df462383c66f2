#!/usr/bin/env -S node --max-old-space-size=1024 --max-semi-space-size=2
// The heap cap makes V8 collect garbage before it piles up: on 200,000 small files peak
// RSS fell from 540 MiB to 360 MiB at the same speed (docs/PERFORMANCE.md). The young
// generation's 2 MiB semi-spaces (V8 reserves up to 16 MiB each) took 20 MiB off a
// snapshot's peak at the same CPU time: the main thread's objects are small. A single
// directory of more than about half a million entries needs more:
//   node --max-old-space-size=4096 "$(command -v strongbox)" …
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv);
