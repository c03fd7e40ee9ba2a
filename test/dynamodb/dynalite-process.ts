/**
 * dynalite in a process of its own, so its CPU does not delay the emulator's view of when calls
 * arrive (the fleet test and the quota bench measure calls per sliding second). The child prints
 * its URL; asked over IPC, it reports the requests it served by operation.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChild } from '../support/child-process.ts';
import { DynaliteServer } from './dynalite-server.ts';

const CHILD = fileURLToPath(import.meta.url);

export class DynaliteProcess {
  #child: ChildProcess | undefined;
  #url = '';

  get url(): string {
    return this.#url;
  }

  async start(): Promise<string> {
    const child = fork(CHILD, ['--child'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#child = child;
    this.#url = await new Promise<string>((resolve, reject) => {
      child.once('message', (message: { url?: string }) =>
        message.url ? resolve(message.url) : reject(new Error('dynalite did not start')),
      );
      child.once('exit', (code) => reject(new Error(`dynalite exited with ${code}`)));
    });
    return this.#url;
  }

  counts(): Promise<Record<string, number>> {
    return new Promise((resolve) => {
      this.#child!.once('message', (message: { counts: Record<string, number> }) => resolve(message.counts));
      this.#child!.send('counts');
    });
  }

  stop(): Promise<void> {
    return stopChild(this.#child);
  }
}

if (process.argv.includes('--child')) {
  const server = new DynaliteServer();
  const url = await server.start();
  process.on('message', (message) => {
    if (message === 'counts') process.send!({ counts: server.counts });
  });
  process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
  process.send!({ url });
}
