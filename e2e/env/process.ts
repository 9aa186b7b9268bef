/** Child processes of the test environment: one-shot commands and long-running services. */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user and group (the environment runs as root; initdb refuses root). */
  uid?: number;
  gid?: number;
  /** Text written to the command's stdin. */
  input?: string;
  timeoutMs?: number;
  /** Aborting kills the command. */
  abort?: AbortSignal;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; rejects with its output when it fails. */
export function runCommand(command: string, args: string[], options: CommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      uid: options.uid,
      gid: options.gid,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs,
      signal: options.abort,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => reject(new Error(`${command}: ${error.message}`)));
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) resolve({ stdout, stderr });
      else {
        const why = signal ? `killed by ${signal}` : `exit code ${code}`;
        reject(new Error(`${command} ${args.join(' ')} failed (${why}):\n${tail(stderr || stdout, 40)}`));
      }
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // the command may exit without reading it
      child.stdin.end(options.input);
    }
  });
}

export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Exit code (or signal name) once the process has exited, else undefined. */
  exitStatus(): string | undefined;
  /** The stop signal (SIGTERM unless told), then SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a long-running process with stdout and stderr appended to `logFile`. */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  logFile: string,
  options: Omit<CommandOptions, 'input' | 'timeoutMs' | 'abort'> & { stopSignal?: NodeJS.Signals } = {},
): ServiceProcess {
  const log = openSync(logFile, 'a');
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    uid: options.uid,
    gid: options.gid,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  let status: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      status = signal ?? String(code);
      resolve();
    });
    child.on('error', (error) => {
      status = `failed to start: ${error.message}`;
      resolve();
    });
  });
  if (child.pid === undefined) {
    // spawn reports ENOENT asynchronously; give it a pid-less handle that is already dead.
    status = `failed to start ${command}`;
  }
  return {
    name,
    pid: child.pid ?? -1,
    logFile,
    exitStatus: () => status,
    async stop(graceMs = 10_000) {
      if (status !== undefined) return;
      child.kill(options.stopSignal ?? 'SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Polls `ready` until it returns true. Fails early, with the end of the log, when the
 * process has exited, and after `timeoutMs`.
 */
export async function waitUntilReady(
  service: ServiceProcess,
  ready: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    const status = service.exitStatus();
    if (status !== undefined) {
      throw new Error(`${service.name} exited (${status}) before it was ready; ${logTail(service.logFile)}`);
    }
    try {
      if (await ready()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${service.name} not ready after ${timeoutMs / 1000}s${lastError ? ` (${lastError})` : ''}; ${logTail(service.logFile)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function logTail(logFile: string, lines = 25): string {
  try {
    return `last lines of ${logFile}:\n${tail(readFileSync(logFile, 'utf8'), lines)}`;
  } catch {
    return `no log at ${logFile}`;
  }
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
