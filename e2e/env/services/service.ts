import { randomBytes } from 'node:crypto';
import type { PortAllocator } from '../ports.ts';
import type { ServiceProcess } from '../process.ts';

/** What every service module gets from the environment that starts it. */
export interface ServiceContext {
  /** A directory of its own, inside the run's temporary directory. */
  dir: string;
  ports: PortAllocator;
}

/** A started service: connection details for tests, its processes, and how to stop it. */
export interface RunningService<Info> {
  info: Info;
  processes: ServiceProcess[];
  stop(): Promise<void>;
}

/** A credential of this run only: hex, so it is safe in URLs and config files. */
export function newSecret(bytes = 16): string {
  return randomBytes(bytes).toString('hex');
}
