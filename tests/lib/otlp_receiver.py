"""A local OTLP/HTTP receiver for tests and benchmarks.

Usage: otlp_receiver.py PORT [DIR]
Accepts every POST (answers 200 {}). With DIR: appends each request body
as one line to DIR/spans.jsonl and "PATH CONTENT-TYPE" to DIR/paths;
answers 500 while DIR/fail exists and waits 8 s before answering while
DIR/hang exists.
"""
import http.server
import os
import sys
import time

DIR = sys.argv[2] if len(sys.argv) > 2 else None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        code = 200
        if DIR is not None:
            if os.path.exists(DIR + "/hang"):
                time.sleep(8)
            if os.path.exists(DIR + "/fail"):
                code = 500
            else:
                with open(DIR + "/spans.jsonl", "ab") as f:
                    f.write(body + b"\n")
                with open(DIR + "/paths", "a", encoding="utf-8") as f:
                    f.write(f"{self.path} {self.headers['Content-Type']}\n")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])),
                                Handler).serve_forever()
