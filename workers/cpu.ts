// Worker for the openmind-cpu task queue.
import { startWorkerProcess } from './start.js';

await startWorkerProcess(['cpu']);
