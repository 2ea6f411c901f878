"""A stand-in for Postmark's email API, served over real HTTP on 127.0.0.1 (an ephemeral
port), for anymail's Postmark backend with ANYMAIL POSTMARK_API_URL pointed at it.

`answer` decides each response from the request's JSON: `accept` (200 and a MessageID),
`fail` (500, a transient error) or `refuse` (422 ErrorCode 406, an inactive recipient: the
way Postmark refuses a recipient that hard-bounced or complained).

Run as a script it serves until killed and prints its URL (the email benchmark uses it so).
"""

import json
import sys
import threading
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def accept(payload):
    return 200, {
        "To": payload["To"],
        "SubmittedAt": "2026-06-10T08:00:00Z",
        "MessageID": str(uuid.uuid4()),
        "ErrorCode": 0,
        "Message": "OK",
    }


def fail(payload):
    return 500, {"ErrorCode": 0, "Message": "Internal server error"}


def refuse(payload):
    return 422, {
        "ErrorCode": 406,
        "Message": "You tried to send to a recipient that has been marked as inactive.\n"
        f"Found inactive addresses: {payload['To'].lower()}.\n"
        "Inactive recipients are ones that have generated a hard bounce or a spam complaint. ",
    }


class FakePostmark:
    def __init__(self, token: str = "test-server-token", record: bool = True):
        self.token = token
        # Off for the benchmark, whose memory must stay flat.
        self.record = record
        self.count = 0
        self.answer = accept
        self.requests: list[dict] = []
        self.accepted: list[tuple[dict, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> "FakePostmark":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def accepted_per_recipient(self) -> Counter:
        return Counter(payload["To"] for payload, _ in self.accepted)

    def _handler(self):
        esp = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Postmark does
            # One write per response, sent at once: headers and body written apart, under
            # Nagle's algorithm, wait for the client's delayed ACK (40 ms per request).
            wbufsize = -1
            disable_nagle_algorithm = True

            def do_POST(self):
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != "/email" or self.headers["X-Postmark-Server-Token"] != esp.token:
                    status, body = 401, {"ErrorCode": 10, "Message": "Bad or missing token."}
                else:
                    status, body = esp.answer(payload)
                    with esp._lock:
                        esp.count += 1
                        if esp.record:
                            esp.requests.append(payload)
                            if status == 200:
                                esp.accepted.append((payload, body["MessageID"]))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler


if __name__ == "__main__":
    server = FakePostmark(token=sys.argv[1] if len(sys.argv) > 1 else "test-server-token")
    server.record = False
    print(server.url, flush=True)
    server._server.serve_forever()
