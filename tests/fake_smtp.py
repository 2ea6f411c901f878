"""A stand-in for an SMTP server, over a real socket on 127.0.0.1 (an ephemeral port), for
Django's SMTP backend: it accepts the session and refuses every recipient (550)."""

import socketserver
import threading


class _Session(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 fake-smtp ready\r\n")
        for line in self.rfile:
            command = line.decode().strip().upper()
            if command.startswith(("EHLO", "HELO")):
                reply = "250 fake-smtp"
            elif command.startswith("RCPT"):
                reply = "550 5.1.1 Mailbox unavailable"
            elif command.startswith("QUIT"):
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                reply = "250 OK"
            self.wfile.write(f"{reply}\r\n".encode())


class RefusingSmtpServer:
    def __init__(self):
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Session)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
