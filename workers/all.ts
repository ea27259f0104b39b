// All three queues in one process: the demo, tests and small installs.
import { startWorkerProcess } from './start.js';

await startWorkerProcess(['io', 'cpu', 'gpu']);
