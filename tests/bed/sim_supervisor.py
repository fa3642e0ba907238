"""The Fluentd supervisor of the simulator: command line, daemonizing like `fluentd --daemon` under
systemd Type=forking, spawning worker processes, SIGUSR1 / SIGTERM / SIGHUP, the RPC endpoint."""
import argparse
import http.server
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time

import sim_config
import sim_texts
import sim_worker
from sim_log import Logger, PluginLog
from sim_signals import SignalPipe, spawn_mask

WEBRICK = "WEBrick/1.8.1 (Ruby/3.1.2/2022-04-12)"
SCRIPT = None   # set by main(): the fluentd-sim executable


def parse_args(argv):
    p = argparse.ArgumentParser(prog="fluentd-sim", description="Fluentd simulator (supervisor + workers)")
    p.add_argument("-c", "--config", required=True, help="simulator config (JSON)")
    p.add_argument("-o", "--log", default=None, help="log file (default: stdout)")
    p.add_argument("-d", "--daemon", metavar="PIDFILE", default=None,
                   help="daemonize; write the supervisor's pid to PIDFILE")
    p.add_argument("--under-supervisor", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


class _ThreadingHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class WorkerProc:
    def __init__(self, wid):
        self.id = wid
        self.proc = None
        self.forward_sock = None


class Supervisor:
    def __init__(self, cfg, config_path, log_path):
        self.cfg = cfg
        self.config_path = config_path
        self.log_path = log_path
        self.texts = sim_texts.VERSIONS[cfg["version"]]
        self.log = Logger(log_path, cfg, self.texts, None)
        self.workers = [WorkerProc(i) for i in range(cfg["workers"])]
        self.stopping = False
        self.lock = threading.Lock()
        self.rpc = None
        self.signals = None

    def cmdline(self):
        cmd = [sys.executable, SCRIPT, "-c", self.config_path]
        if self.log_path:
            cmd += ["--log", self.log_path]
        return cmd + ["--under-supervisor"]

    def startup_lines(self):
        log = self.log
        if self.texts["init_logger_lines"] and self.log_path:
            log.info("init supervisor logger", {"path": self.log_path, "rotate_age": None, "rotate_size": None})
        log.info("parsing config file is succeeded", {"path": self.config_path})
        for o in self.cfg["outputs"]:
            for header, text in sim_worker.output_config_warnings(self.cfg, o):
                log.warn(text, plugin=PluginLog(o["id"], o["log_level"]) if header else None)
        log.debug("No fluent logger for internal event")
        log.info("using configuration file: " + sim_config.dump(self.cfg))
        log.info("starting fluentd-%s" % self.texts["fluentd"], {"pid": os.getpid(), "ruby": self.texts["ruby"]})
        log.info("spawn command to main: ", {"cmdline": self.cmdline()})

    def start_rpc(self):
        ep = self.cfg["rpc_endpoint"]
        if not ep:
            return
        host, _, port = ep.rpartition(":")
        sup = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = WEBRICK
            sys_version = ""

            def log_message(self, *a):
                pass

            def reply(self, code, body):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "Keep-Alive")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                if path == "/api/plugins.flushBuffers":
                    sup.log.debug("fluentd RPC got /api/plugins.flushBuffers request")
                    if sim_worker.read_faults(sup.cfg["faults_file"]).get("rpc_error"):
                        self.reply(500, b'{"ok":true}')
                        return
                    threading.Thread(target=sup.sigusr1, args=(False,), daemon=True).start()
                    self.reply(200, b'{"ok":true}')
                elif path == "/api/config.dump":
                    sup.log.debug("fluentd RPC got /api/config.dump request")
                    sup.log.info("using configuration file: " + sim_config.dump(sup.cfg))
                    self.reply(200, b'{"ok":true}')
                else:
                    self.reply(404, b'{"ok":false,"message":"Not found"}')

        self.rpc = _ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
        handlers = list(sim_texts.RPC_HANDLERS)
        if self.texts["graceful_reload_rpc"]:
            handlers.append("/api/config.gracefulReload")
        for h in handlers:
            self.log.debug("register %s RPC handler" % h)
        threading.Thread(target=self.rpc.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.log.debug("listening RPC http server on http://%s:%s/" % (host, port))

    def open_forward_sockets(self):
        """in_forward's listening sockets, one per worker (port + N), opened by the supervisor and handed
        to each worker process it spawns — as Fluentd's in_forward gets its (shared) socket from
        ServerEngine's socket manager in the supervisor.  So a worker's port accepts connections from
        the moment the supervisor is up, while that worker is still starting or being restarted."""
        inp = self.cfg["input"]
        if inp is None:
            return
        for w in self.workers:
            w.forward_sock = sim_worker.listen_socket(inp["bind"], int(inp["port"]) + w.id)

    def spawn(self, w):
        """Start worker w (main thread only): it starts with USR1/HUP/TERM/INT blocked and unblocks them
        once its handlers are installed, so a signal sent while it starts is not fatal."""
        env = dict(os.environ, SERVERENGINE_WORKER_ID=str(w.id))
        fds = ()
        if w.forward_sock is not None:
            env[sim_worker.FORWARD_FD_ENV] = str(w.forward_sock.fileno())
            fds = (w.forward_sock.fileno(),)
        with spawn_mask():
            w.proc = subprocess.Popen(self.cmdline(), env=env, stdin=subprocess.DEVNULL, close_fds=True,
                                      pass_fds=fds)

    def sigusr1(self, from_signal=True):
        if sim_worker.read_faults(self.cfg["faults_file"]).get("ignore_usr1"):
            return
        if from_signal:
            self.log.debug("fluentd supervisor process get SIGUSR1")
        self.log.reopen()
        with self.lock:
            for w in self.workers:
                if w.proc is not None and w.proc.poll() is None:
                    try:
                        os.kill(w.proc.pid, signal.SIGUSR1)
                    except ProcessLookupError:
                        pass

    def on_signal(self, signum):
        """What a signal does, run by the main loop (never inside a signal handler)."""
        if signum == signal.SIGUSR1:
            self.sigusr1()
        elif signum == signal.SIGHUP:
            self.log.reopen()
        elif signum in (signal.SIGTERM, signal.SIGINT):
            self.stopping = True
        # SIGCHLD only wakes the loop up: a dead worker is seen at once

    def dispatch(self, timeout):
        for signum in self.signals.wait(timeout):
            self.on_signal(signum)

    def run(self, ready=None):
        # handlers first (as Fluentd's supervisor does): a signal during start-up is kept, not fatal
        self.signals = SignalPipe((signal.SIGUSR1, signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD))
        self.startup_lines()
        self.start_rpc()
        self.open_forward_sockets()
        for w in self.workers:
            self.spawn(w)
        if ready:
            ready()
        while not self.stopping:
            self.dispatch(0.1)
            if self.stopping:
                break
            with self.lock:
                for w in self.workers:
                    rc = w.proc.poll()
                    if rc is not None:
                        self.log.info("Worker %d finished unexpectedly with %s" % (w.id, join_status(rc)))
                        self.spawn(w)
        self.log.info("Received graceful stop")
        with self.lock:
            for w in self.workers:
                if w.proc.poll() is None:
                    try:
                        os.kill(w.proc.pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
        pending = list(self.workers)
        deadline = time.monotonic() + 120
        while pending:
            for w in list(pending):
                rc = w.proc.poll()
                if rc is not None:
                    self.log.info("Worker %d finished with %s" % (w.id, join_status(rc)))
                    pending.remove(w)
            if not pending:
                break
            if time.monotonic() > deadline:
                for w in pending:
                    w.proc.kill()
                deadline = time.monotonic() + 5
            self.dispatch(0.05)       # SIGUSR1 / SIGHUP still work while the workers stop
        if self.rpc:
            self.rpc.shutdown()
        self.signals.close()
        return 0


def join_status(rc):
    if rc < 0:
        try:
            return "signal %s" % signal.Signals(-rc).name
        except ValueError:
            return "signal %d" % -rc
    return "status %d" % rc


def daemonize(pid_file):
    """fluentd --daemon: the launching process exits 0 once the supervisor is up and its pid is in
    PIDFILE (what systemd Type=forking waits for); stdio goes to /dev/null."""
    r, w = os.pipe()
    pid = os.fork()
    if pid > 0:
        os.close(w)
        data = b""
        while True:
            chunk = os.read(r, 64)
            if not chunk:
                break
            data += chunk
        os.waitpid(pid, 0)
        os._exit(0 if data.startswith(b"ok") else 1)
    os.close(r)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    tmp = pid_file + ".tmp%d" % os.getpid()
    try:
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(tmp, pid_file)
    except OSError:
        try:
            with open(pid_file, "w") as f:
                f.write("%d\n" % os.getpid())
        except OSError:
            os.write(w, b"fail")
            os._exit(1)

    def ready():
        os.write(w, b"ok")
        os.close(w)
    return ready


def main(argv, script):
    global SCRIPT
    SCRIPT = os.path.abspath(script)
    args = parse_args(argv)
    config_path = os.path.abspath(args.config)
    log_path = os.path.abspath(args.log) if args.log else None
    try:
        cfg = sim_config.load(config_path)
    except (OSError, sim_config.ConfigError) as e:
        sys.stderr.write("fluentd-sim: config error: %s\n" % e)
        return 1
    if args.under_supervisor:
        return sim_worker.worker_main(cfg, config_path, log_path, int(os.environ.get("SERVERENGINE_WORKER_ID", "0")))
    ready = None
    if args.daemon:
        ready = daemonize(os.path.abspath(args.daemon))
    return Supervisor(cfg, config_path, log_path).run(ready)
