// Long-running commands (`rate`, `fake-openneuro`) run until Ctrl-C or a stop from the supervisor.

/** Resolves at the first SIGINT or SIGTERM (and stops listening for both). */
export function untilSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
