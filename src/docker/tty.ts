/**
 * Interactive terminals for the browser portal: a `docker exec` with a TTY, like `lab shell`, but
 * driven through the Engine API (no `docker` CLI, no pty on the host). The command and user are
 * chosen by the portal from a fixed set (never from a browser's text); the browser only types into it.
 */
import type { Duplex } from 'node:stream';
import { dockerClient } from './client.js';

export interface TtySession {
  /** Raw terminal bytes both ways (a TTY exec is not multiplexed). */
  stream: Duplex;
  resize(cols: number, rows: number): Promise<void>;
  /** The shell's exit code once it ended (undefined while it runs or when Docker cannot tell). */
  exitCode(): Promise<number | undefined>;
}

export interface TtyOptions {
  user: 'root' | 'postgres';
  argv: string[];
  cols: number;
  rows: number;
}

const HOMES = { root: '/root', postgres: '/var/lib/postgresql' } as const;

export async function openTty(container: string, opts: TtyOptions): Promise<TtySession> {
  const home = HOMES[opts.user];
  const exec = await dockerClient(container).getContainer(container).exec({
    Cmd: opts.argv,
    User: opts.user,
    WorkingDir: home,
    Env: [`HOME=${home}`, 'TERM=xterm-256color', 'LANG=C.UTF-8'],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: true,
  });
  // ConsoleSize: the shell starts at the page's size (a resize before the process exists is refused, and
  // bash would draw its first lines one column wide).
  const stream = (await exec.start({ hijack: true, stdin: true, Tty: true, ConsoleSize: [opts.rows, opts.cols] } as never)) as unknown as Duplex;
  const resize = async (cols: number, rows: number) => {
    // Docker refuses a resize before the process started, and after it ended: neither matters here.
    await exec.resize({ w: cols, h: rows }).catch(() => {});
  };
  await resize(opts.cols, opts.rows);
  return {
    stream,
    resize,
    exitCode: async () => {
      const info = await exec.inspect().catch(() => undefined);
      return info && !info.Running && typeof info.ExitCode === 'number' ? info.ExitCode : undefined;
    },
  };
}
