// Every child process a test starts (server, ffmpeg) is tracked here so that
// teardown, or the worker's exit, kills what is left.
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();

export function track<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function alive(): ChildProcess[] {
  return Array.from(children).filter((c) => c.exitCode === null && c.signalCode === null);
}

/** Kills the helpers that filter picks (default: all) and waits for them. */
export function killAll(filter: (c: ChildProcess) => boolean = () => true): Promise<void> {
  const list = alive().filter(filter);
  return Promise.all(list.map((c) => new Promise<void>((resolve) => {
    c.once('exit', () => resolve());
    c.kill('SIGKILL');
  }))).then(() => undefined);
}

process.on('exit', () => {
  for (const c of alive()) c.kill('SIGKILL');
});
