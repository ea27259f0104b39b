// Worker for the openmind-io task queue.
import { startWorkerProcess } from './start.js';

await startWorkerProcess(['io']);
