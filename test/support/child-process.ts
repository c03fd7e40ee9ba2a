/** Ends a helper process (a test peer in a process of its own) and waits until it has exited. */
import type { ChildProcess } from 'node:child_process';

export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
