"""Header-reading worker processes for large imports.

Header parsing is CPU-bound Python, so threads would share one core under the GIL. The workers
are plain ``python -c "...header_worker import main; main()"`` child processes talking over pipes, not a
``multiprocessing`` pool: a pool's ``spawn``/``forkserver`` children re-import the caller's
``__main__`` (re-running an unguarded script, or failing in a notebook), and ``fork`` is unsafe
in a process that runs threads (the GUI, the network layer). Each message is a pickled list
of paths one way and a pickled list of results the other; only Lightbox's own processes are
at either end.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import select
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

from viewer.store.headers import HeaderResult, read_index_headers

IN_FLIGHT = 4  # chunks queued per worker, so none waits for the parent between chunks
READY = "ready"  # a worker's first message, once its imports are done


class WorkerError(RuntimeError):
    """A worker process died or answered nonsense; the caller reads the rest itself."""


class HeaderWorkers:
    """A few long-lived worker processes that read header chunks in order."""

    def __init__(self, count: int) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self.procs = [
            subprocess.Popen([sys.executable, "-c", "from viewer.store.header_worker import main; main()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            for _ in range(count)
        ]
        self._starting = list(self.procs)
        self.outstanding = 0  # chunks sent whose results were not read yet

    def ready(self) -> bool:
        """Whether every worker has started (never blocks on POSIX).

        Starting a worker costs about as much as reading a few thousand headers, so the
        importer reads in its own process until this turns true.
        """
        if self._starting and os.name == "posix":
            readable, _, _ = select.select([p.stdout for p in self._starting], [], [], 0)
            for proc in [p for p in self._starting if p.stdout in readable]:
                self._expect_ready(proc)
        elif self._starting:  # no select() on Windows pipes: wait for them
            for proc in list(self._starting):
                self._expect_ready(proc)
        return not self._starting

    def _expect_ready(self, proc: subprocess.Popen) -> None:
        try:
            message = pickle.load(proc.stdout)  # type: ignore[arg-type]
        except (EOFError, pickle.UnpicklingError, OSError) as exc:
            raise WorkerError(f"header worker {proc.pid} did not start ({type(exc).__name__})") from exc
        if message != READY:
            raise WorkerError(f"header worker {proc.pid} did not start ({message!r})")
        self._starting.remove(proc)

    def map(self, chunks: list[list[str]]) -> Iterator[list[HeaderResult]]:
        """Results of ``chunks`` in order. Stop iterating early only together with :meth:`kill`."""
        while self._starting:
            self._expect_ready(self._starting[0])
        n = len(self.procs)
        for i in range(min(len(chunks), n * IN_FLIGHT)):
            self._send(i % n, chunks[i])
        for i in range(len(chunks)):
            proc = self.procs[i % n]
            try:
                result = pickle.load(proc.stdout)  # type: ignore[arg-type]
            except (EOFError, pickle.UnpicklingError, OSError) as exc:
                raise WorkerError(f"header worker {proc.pid} stopped ({type(exc).__name__})") from exc
            self.outstanding -= 1
            if not isinstance(result, list) or len(result) != len(chunks[i]):
                raise WorkerError(f"header worker {proc.pid} answered out of step")
            if i + n * IN_FLIGHT < len(chunks):
                self._send(i % n, chunks[i + n * IN_FLIGHT])
            yield result

    def _send(self, worker: int, chunk: list[str]) -> None:
        proc = self.procs[worker]
        try:
            pickle.dump(chunk, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)  # type: ignore[arg-type]
            proc.stdin.flush()  # type: ignore[union-attr]
            self.outstanding += 1
        except OSError as exc:
            raise WorkerError(f"header worker {proc.pid} is gone ({exc})") from exc

    def close(self) -> None:
        """Let idle workers exit (end of input), killing any that do not."""
        for proc in self.procs:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # type: ignore[union-attr]
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()  # type: ignore[union-attr]

    def kill(self) -> None:
        """Stop workers that may still hold unread results (cancel, error)."""
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError):
                    pipe.close()  # type: ignore[union-attr]


def main() -> None:
    """Answer each chunk of paths with its header results, in order, until stdin closes.

    A thread drains stdin into a queue, so the parent's writes never wait on a worker that is
    itself waiting for the parent to read its results (a pipe holds only 64 KiB).
    """
    warnings.simplefilter("ignore")  # problems come back as FileProblem values, not warnings
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() from a library must not corrupt the protocol
    chunks: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()

    def drain() -> None:
        while True:
            try:
                chunks.put(pickle.load(stdin))
            except (EOFError, OSError, pickle.UnpicklingError):
                chunks.put(None)
                return

    threading.Thread(target=drain, daemon=True).start()
    pickle.dump(READY, stdout)
    stdout.flush()
    while (paths := chunks.get()) is not None:
        pickle.dump(read_index_headers(paths), stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()


if __name__ == "__main__":
    main()
