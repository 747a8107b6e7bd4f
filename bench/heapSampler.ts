// Preloaded into each worker by `npm run bench -- --heap-sample`: V8's sampling heap profiler,
// told to keep the objects that only a mark-compact collected (and drop those a scavenge did), so
// the profile shows what fills the old generation: what, in steady play, makes the mark-compacts
// whose pauses decide the tail. The first SIGUSR2 starts sampling, the second writes the profile
// to CINDER_BENCH_HEAP_SAMPLE (--heap-snapshot uses SIGUSR2 too: the two flags exclude each other).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

const file = process.env.CINDER_BENCH_HEAP_SAMPLE;
if (file !== undefined) {
  const session = new Session();
  session.connect();
  let sampling = false;
  process.on('SIGUSR2', () => {
    sampling = !sampling;
    const step = sampling
      ? session.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false })
      : session.post('HeapProfiler.stopSampling').then(({ profile }) => {
          writeFileSync(file, JSON.stringify(profile));
        });
    step.catch((error: unknown) => {
      console.error('heap sampling failed:', error);
    });
  });
}
