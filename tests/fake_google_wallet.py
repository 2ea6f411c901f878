"""A stand-in for Google's OAuth token endpoint and the Google Wallet REST API (loyaltyClass
and loyaltyObject: insert, get, patch), served over real HTTP on 127.0.0.1 (an ephemeral
port), for google-auth's AuthorizedSession.

The token endpoint checks the service account's signed assertion against the public key it
was given and issues a bearer token; the API answers 401 without one. Inserting an id that
exists answers 409, patching one that does not 404, as Google does. Every request is
recorded; `fail` scripts failures for the requests whose path mentions a given text.

`service_account_info` makes a service-account key (a fresh RSA key) whose token_uri is this
server, as the JSON file Google's console downloads holds it.
"""

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

API_PREFIX = "/walletobjects/v1/"
KINDS = ("loyaltyClass", "loyaltyObject")
# google-auth signs its assertions for Google's token endpoint, whatever token_uri says.
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
WALLET_SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"


@dataclass
class Recorded:
    method: str
    path: str
    body: dict | None
    authorization: str


@dataclass
class Failure:
    status: int
    match: str
    times: int | None
    headers: dict = field(default_factory=dict)


class FakeGoogleWallet:
    def __init__(self):
        self.requests: list[Recorded] = []
        self.resources: dict[str, dict[str, dict]] = {kind: {} for kind in KINDS}
        self.public_keys: list[bytes] = []
        self.tokens: set[str] = set()
        self.failures: list[Failure] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX.rstrip("/")

    def start(self) -> "FakeGoogleWallet":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def service_account_info(self, *, email: str = "wallet@loyalty-test.iam.gserviceaccount.com"):
        """A new service-account key that this server's token endpoint accepts."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_keys.append(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return {
            "type": "service_account",
            "project_id": "loyalty-test",
            "private_key_id": uuid.uuid4().hex,
            "private_key": private_pem.decode(),
            "client_email": email,
            "client_id": "1234567890",
            "token_uri": f"{self.url}/token",
        }

    def fail(
        self,
        status: int,
        *,
        match: str = "",
        times: int | None = 1,
        headers: dict | None = None,
    ) -> None:
        """Answer `status` to the next `times` API requests (None: all) whose path or
        resource id contains `match`."""
        self.failures.append(Failure(status, match, times, headers or {}))

    def api_requests(self, kind: str | None = None) -> list[tuple[str, str]]:
        """(method, resource id) of each API request, in order (token requests left out)."""
        calls = []
        for request in self.requests:
            if not request.path.startswith(API_PREFIX):
                continue
            rest = request.path.removeprefix(API_PREFIX)
            request_kind, _, resource_id = rest.partition("/")
            if kind is None or request_kind == kind:
                calls.append((request.method, resource_id or (request.body or {}).get("id")))
        return calls

    def _scripted(self, path: str, body: dict | None) -> Failure | None:
        text = path + " " + str((body or {}).get("id", ""))
        with self._lock:
            for failure in self.failures:
                if failure.match in text and failure.times != 0:
                    if failure.times is not None:
                        failure.times -= 1
                    return failure
        return None

    def _answer(self, method: str, path: str, body: dict | None, authorization: str):
        if path == "/token" and method == "POST":
            return self._token(body)
        if not path.startswith(API_PREFIX):
            return 404, {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}}
        if authorization.removeprefix("Bearer ") not in self.tokens:
            return 401, _error(401, "Request had invalid authentication credentials.")
        failure = self._scripted(path, body)
        if failure is not None:
            return failure.status, _error(failure.status, "Scripted failure"), failure.headers
        kind, _, resource_id = path.removeprefix(API_PREFIX).partition("/")
        if kind not in KINDS:
            return 404, _error(404, f"Unknown resource {kind}")
        stored = self.resources[kind]
        with self._lock:
            if method == "POST" and not resource_id:
                if body["id"] in stored:
                    return 409, _error(409, f"Resource already exists: {body['id']}")
                stored[body["id"]] = body
                return 200, body
            if resource_id not in stored:
                return 404, _error(404, f"Resource not found: {resource_id}")
            if method == "GET":
                return 200, stored[resource_id]
            if method == "PATCH":
                stored[resource_id] = {**stored[resource_id], **body}
                return 200, stored[resource_id]
        return 405, _error(405, "Method not allowed")

    def _token(self, form: dict):
        assertion = form.get("assertion", [""])[0]
        for public_key in self.public_keys:
            try:
                claims = jwt.decode(assertion, certs=public_key, audience=TOKEN_AUDIENCE)
            except ValueError:
                continue
            if WALLET_SCOPE not in claims.get("scope", "").split():
                return 400, {"error": "invalid_scope", "error_description": "No wallet scope."}
            token = uuid.uuid4().hex
            self.tokens.add(token)
            return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
        return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}

    def _handler(self):
        wallet = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1
            disable_nagle_algorithm = True

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    body = json.loads(raw) if raw else None
                else:
                    body = parse_qs(raw)
                authorization = self.headers.get("Authorization", "")
                with wallet._lock:
                    wallet.requests.append(Recorded(self.command, self.path, body, authorization))
                status, payload, *headers = wallet._answer(
                    self.command, self.path, body, authorization
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers[0] if headers else {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _serve

            def log_message(self, *args):
                pass

        return Handler


def _error(code: int, message: str) -> dict:
    return {"error": {"code": code, "message": message}}
