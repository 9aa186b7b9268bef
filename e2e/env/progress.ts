/** Short progress lines with timings, on stderr so they never mix with a test reporter's output. */
export interface Progress {
  line(message: string): void;
  /** Runs `work`, printing how long it took (or that it failed). */
  step<T>(label: string, work: () => Promise<T>): Promise<T>;
}

export function consoleProgress(prefix = 'env'): Progress {
  const started = Date.now();
  const stamp = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s`;
  const line = (message: string) => process.stderr.write(`[${prefix} ${stamp()}] ${message}\n`);
  return {
    line,
    async step(label, work) {
      const t0 = Date.now();
      try {
        const result = await work();
        line(`${label}: ok (${seconds(t0)})`);
        return result;
      } catch (err) {
        line(`${label}: FAILED after ${seconds(t0)}`);
        throw err;
      }
    },
  };
}

function seconds(t0: number): string {
  return `${((Date.now() - t0) / 1000).toFixed(1)}s`;
}
