"""Signals for the simulator's processes, without doing anything in a signal handler.

A Python-level signal handler runs in the main thread between two bytecodes — possibly while that thread
holds a lock (a threading.Event's condition inside Event.wait(), the logger's lock, threading's
_active_limbo_lock inside Thread.start()).  A handler that takes any lock can then deadlock the process
for good (seen: a worker stuck in futex_do_wait after two quick SIGTERMs).  So the handlers installed here
do nothing; the C-level handler writes the signal number to a non-blocking pipe (signal.set_wakeup_fd),
and the main loop reads the numbers with SignalPipe.wait() and acts on them outside any handler.

A worker is spawned with these signals blocked (spawn_mask) and unblocks them once its handlers are in
place (SignalPipe.unblock): a SIGUSR1/SIGTERM sent while the new process is still starting waits,
pending, instead of killing it.
"""
import os
import select
import signal

HANDLED = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)
SPAWN_BLOCKED = {signal.SIGUSR1, signal.SIGHUP, signal.SIGTERM, signal.SIGINT}


def _nothing(signum, frame):
    """The Python-level handler: nothing at all (the wakeup fd already has the signal number)."""


class SignalPipe:
    """Install do-nothing handlers for `signals` and collect them as bytes on a self-pipe.
    Must be created in the main thread."""

    def __init__(self, signals):
        self.signals = tuple(signals)
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.w, warn_on_full_buffer=False)
        for s in self.signals:
            signal.signal(s, _nothing)

    def close(self):
        """The process is done: ignore the signals from now on.  Python restores the default action of
        every signal it handles while the interpreter finalizes, so a late signal (systemd's second
        SIGTERM, a logrotate SIGUSR1) would otherwise kill a process that was exiting with status 0."""
        for s in self.signals:
            if s != signal.SIGCHLD:          # SIG_IGN would change how children are reaped
                signal.signal(s, signal.SIG_IGN)

    def unblock(self):
        """Deliver what arrived while this process started (blocked since the parent's fork)."""
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SPAWN_BLOCKED)

    def wait(self, timeout):
        """The signal numbers received (in order, repeats kept), waiting up to `timeout` s for one."""
        try:
            ready, _, _ = select.select([self.r], [], [], timeout)
        except InterruptedError:
            ready = [self.r]
        if not ready:
            return []
        try:
            data = os.read(self.r, 4096)
        except BlockingIOError:
            return []
        return [b for b in data if b in self.signals]


class spawn_mask:
    """`with spawn_mask(): subprocess.Popen(...)` in the main thread: the child starts with SPAWN_BLOCKED
    blocked (a signal mask survives fork and exec); the parent's mask is restored after."""

    def __enter__(self):
        self.old = signal.pthread_sigmask(signal.SIG_BLOCK, SPAWN_BLOCKED)
        return self

    def __exit__(self, *exc):
        signal.pthread_sigmask(signal.SIG_SETMASK, self.old)
