/** Runs a client program for the smoke tests; rejects with its output when it fails. */
import { execFile } from 'node:child_process';
import { testEnv } from '../env/test-env.ts';

export interface Output {
  stdout: string;
  stderr: string;
}

export function command(program: string, args: string[], env: Record<string, string> = {}): Promise<Output> {
  return new Promise((resolve, reject) => {
    execFile(
      program,
      args,
      { env: { ...process.env, ...testEnv().clients.env, ...env }, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${program} ${args.join(' ')}: ${error.message}\n${stderr}\n${stdout}`));
        else resolve({ stdout, stderr });
      },
    );
  });
}
