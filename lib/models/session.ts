// onnxruntime-node sessions on CUDA where the worker has it, else the CPU; the provider actually
// used, and why it fell back, are returned so callers can record them.
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import { ModelError } from './errors.js';

export type ExecutionProvider = 'cuda' | 'cpu';

export interface SessionChoice {
  session: ort.InferenceSession;
  executionProvider: ExecutionProvider;
  /** True when CUDA was asked for and the CPU is used instead. */
  fellBackToCpu: boolean;
  fallbackReason?: string;
}

/** The provider asked for ('cpu' unless 'cuda' is named; callers read OPENMIND_EP through their config). */
export function requestedProvider(asked?: string): ExecutionProvider {
  return (asked ?? 'cpu').toLowerCase() === 'cuda' ? 'cuda' : 'cpu';
}

/**
 * Threads for one CPU inference: the caller's count (OPENMIND_ORT_THREADS, read by the caller's
 * config, e.g. when several workers share a machine), else every logical CPU the process may use
 * (onnxruntime's own default counts physical cores only, which leaves half a small VM idle).
 */
export function cpuThreads(asked?: number): number {
  if (asked !== undefined && Number.isInteger(asked) && asked > 0) return asked;
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/**
 * CPU session: full graph optimisation, one op at a time with all threads inside it (the graph is a
 * chain, so parallel execution has nothing to overlap), memory pattern and arena on (the same
 * shapes are run again and again within an image).
 */
export function cpuOptions(threads?: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: cpuThreads(threads),
    interOpNumThreads: 1,
    enableMemPattern: true,
    enableCpuMemArena: true,
  };
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0].slice(0, 300);
}

/** Create a session, trying CUDA first when asked and falling back to the CPU on any failure. */
export async function createSession(model: string | Uint8Array, requested: ExecutionProvider = requestedProvider(), threads?: number): Promise<SessionChoice> {
  let fallbackReason: string | undefined;
  if (requested === 'cuda') {
    // ORT logs a failed provider load at error level through its global logger; the fallback is
    // reported in the result instead, so keep that quiet for the attempt.
    const previousLevel = ort.env.logLevel;
    ort.env.logLevel = 'fatal';
    try {
      const session = await createWith(model, {
        executionProviders: [{ name: 'cuda', deviceId: 0 }],
        graphOptimizationLevel: 'all',
        // ORT logs the failed provider load at error level; the fallback is reported instead.
        logSeverityLevel: 4,
      });
      return { session, executionProvider: 'cuda', fellBackToCpu: false };
    } catch (err) {
      fallbackReason = `cuda unavailable: ${firstLine(err)}`;
    } finally {
      ort.env.logLevel = previousLevel;
    }
  }
  try {
    const session = await createWith(model, cpuOptions(threads));
    return { session, executionProvider: 'cpu', fellBackToCpu: requested === 'cuda', fallbackReason };
  } catch (err) {
    throw new ModelError('session_failed', `onnxruntime could not load the model: ${firstLine(err)}`);
  }
}

function createWith(model: string | Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

/**
 * Run one float32 input through the session. When a CUDA run fails (device memory, driver), the
 * model is reloaded on the CPU and run again; the returned choice says what was finally used.
 */
export async function runSingle(
  choice: SessionChoice,
  model: string | Uint8Array,
  input: { name: string; data: Float32Array; dims: number[] },
  outputName: string,
): Promise<{ output: ort.Tensor; choice: SessionChoice }> {
  const feeds = { [input.name]: new ort.Tensor('float32', input.data, input.dims) };
  try {
    const out = await choice.session.run(feeds);
    return { output: out[outputName], choice };
  } catch (err) {
    if (choice.executionProvider !== 'cuda') throw new ModelError('inference_failed', `inference failed: ${firstLine(err)}`);
    await choice.session.release().catch(() => undefined);
    const cpu = await createSession(model, 'cpu');
    const retried: SessionChoice = { ...cpu, fellBackToCpu: true, fallbackReason: `cuda run failed: ${firstLine(err)}` };
    const out = await retried.session.run(feeds);
    return { output: out[outputName], choice: retried };
  }
}
