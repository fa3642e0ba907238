"""An HTTP server on 127.0.0.1:<ephemeral port> in a daemon thread: the base of the local AWS endpoints.
Subclasses give handler_class() (and may wrap the listening socket, e.g. in TLS) and their own url."""
import threading
from http.server import ThreadingHTTPServer


class LoopbackServer:
    host = "127.0.0.1"
    thread_name = "loopback-http"
    _server = None
    _thread = None

    def handler_class(self):
        raise NotImplementedError

    def wrap_socket(self, sock):
        return sock

    def start(self):
        self._server = ThreadingHTTPServer((self.host, 0), self.handler_class())
        self._server.daemon_threads = True
        self._server.socket = self.wrap_socket(self._server.socket)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._server.server_address[1]
