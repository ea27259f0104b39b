// Heartbeats for every activity, from one place. The audit interceptor starts a ticker per attempt;
// an activity that has resumable progress (a download offset, a finished sub-step) sets the details
// the ticker sends, so a retry on another worker reads them from `info.heartbeatDetails`.
import { Context } from '@temporalio/activity';

const details = new WeakMap<Context, unknown>();

export function setProgress(value: unknown): void {
  const ctx = Context.current();
  details.set(ctx, value);
  ctx.heartbeat(value);
}

export function startHeartbeatTicker(ctx: Context, everyMs = 2000): () => void {
  const timer = setInterval(() => {
    try {
      ctx.heartbeat(details.get(ctx));
    } catch {
      /* activity already finished */
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
