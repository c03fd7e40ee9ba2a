/**
 * The emulator in a process of its own, for measurements of calls per sliding second: its clock
 * of arrivals is then not delayed by the work of the process that drives the test. Driven over
 * IPC: seed tasks, read what it received.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChild } from '../support/child-process.ts';
import { VolcEmulator, type EmulatedTask, type EmulatorOptions, type ReceivedRequest } from './volc-emulator.ts';

type Seed = Partial<EmulatedTask> & Pick<EmulatedTask, 'appId' | 'roomId' | 'taskId'>;
type Command = { id: number; seed: Seed[] } | { id: number; received: true };

const CHILD = fileURLToPath(import.meta.url);

export class EmulatorProcess {
  #child: ChildProcess | undefined;
  #url = '';
  #next = 0;

  constructor(readonly options: Pick<EmulatorOptions, 'credentials' | 'qpsLimits'>) {}

  get url(): string {
    return this.#url;
  }

  async start(): Promise<string> {
    const child = fork(CHILD, ['--child'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#child = child;
    child.send({ options: this.options });
    this.#url = await new Promise<string>((resolve, reject) => {
      child.once('message', (message: { url: string }) => resolve(message.url));
      child.once('exit', (code) => reject(new Error(`the emulator exited with ${code}`)));
    });
    return this.#url;
  }

  /** Seeds tasks; answers their StartTimes. */
  seed(tasks: Seed[]): Promise<EmulatedTask[]> {
    return this.#ask({ id: ++this.#next, seed: tasks }) as Promise<EmulatedTask[]>;
  }

  received(): Promise<ReceivedRequest[]> {
    return this.#ask({ id: ++this.#next, received: true }) as Promise<ReceivedRequest[]>;
  }

  #ask(command: Command): Promise<unknown> {
    const child = this.#child!;
    return new Promise((resolve) => {
      const listen = (message: { id?: number; answer?: unknown }) => {
        if (message.id !== command.id) return;
        child.off('message', listen);
        resolve(message.answer);
      };
      child.on('message', listen);
      child.send(command);
    });
  }

  stop(): Promise<void> {
    return stopChild(this.#child);
  }
}

if (process.argv.includes('--child')) {
  let emulator: VolcEmulator | undefined;
  process.on('message', (message: { options?: EmulatorOptions; id?: number; seed?: Seed[]; received?: true }) => {
    void (async () => {
      if (message.options) {
        emulator = new VolcEmulator(message.options);
        process.send!({ url: await emulator.start() });
      } else if (message.seed) {
        process.send!({ id: message.id, answer: message.seed.map((task) => emulator!.seedTask(task)) });
      } else if (message.received) {
        process.send!({ id: message.id, answer: emulator!.callsOf('GetSegmentTask') });
      }
    })();
  });
  process.on('SIGTERM', () => void emulator?.stop().then(() => process.exit(0)));
}
