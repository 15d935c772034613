# A real WSGI app (Python's wsgiref, as Debian ships it) for the header tests: it prints one JSON
# line per request with the CGI-style environ it built (HTTP_* keys: `_` and `-` folded alike).
import json
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def app(environ, start_response):
    seen = {key: value for key, value in environ.items() if key.startswith('HTTP_')}
    line = json.dumps({'path': environ.get('PATH_INFO'), 'environ': seen})
    sys.stdout.write(line + '\n')
    sys.stdout.flush()
    body = line.encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]


server = make_server('127.0.0.1', 0, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler)
print(server.server_port, flush=True)
server.serve_forever()
