// Worker for the openmind-gpu task queue.
import { startWorkerProcess } from './start.js';

await startWorkerProcess(['gpu']);
