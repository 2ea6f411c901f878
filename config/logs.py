"""Log records: the request id that ties them to a request, what is masked in them, and their
two formats (README, "Logs").

- A request's id comes from its `X-Request-ID` header when that is a safe token, or is made
  here; it is echoed in the response, held in a context variable while the request runs, and
  sent along as a header with the Celery tasks the request queues. A task queued by no
  request (the beat's) uses its own task id.
- Every record is masked before it is written, whatever logger made it: email addresses,
  the signed tokens of card and unsubscribe links, terminal keys after `Api-Key`, and the row
  values PostgreSQL quotes in its errors.
- `LOG_FORMAT=json` writes one JSON object per line; `text` (the default) one plain line.
"""

import datetime
import json
import logging
import re
import time
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
# The Celery message header that carries the id of the request that queued the task.
TASK_HEADER = "request_id"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

logger = logging.getLogger(__name__)


def _incoming_request_id(value: str) -> str:
    """The caller's id when it is a safe token (it ends up in logs and a response header),
    else a new one."""
    if _SAFE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First in MIDDLEWARE: everything the request logs carries its id. Logs one
    `http_request` line per answer (the access log, with its path masked)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = _incoming_request_id(request.headers.get(REQUEST_ID_HEADER, ""))
        token = request_id.set(request.request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request.request_id
            duration_ms = round((time.monotonic() - started) * 1000)
            path = mask(request.path)
            logger.info(
                f"http_request {request.method} {path} {response.status_code} {duration_ms} ms",
                extra={
                    "event": "http_request",
                    "method": request.method,
                    "path": path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                },
            )
            return response
        finally:
            request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the current request's (or task's) id on every record as `request_id`. Django logs
    a request's 4xx answers after the middleware returned: those records carry the request."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = request_id.get()
        if current is None:
            current = getattr(getattr(record, "request", None), "request_id", None)
        record.request_id = current
        return True


# What is masked, anywhere in a message or a traceback.
_MASKS = (
    # PostgreSQL quotes the values of the row a constraint refused: names, emails, phones.
    (re.compile(r"(Failing row contains )\(.*\)"), r"\1(<row>)"),
    (re.compile(r"(Key \(.*?\)=)\(.*?\)( already exists| is not present)"), r"\1(<value>)\2"),
    # Email addresses: an ESP's refusal or a database error can quote the customer's.
    (
        re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
        "<email>",
    ),
    # The signed tokens of card links (/card/<token>/, /card/<token>/wallet/) and
    # unsubscribe links: whoever has one opens the card, or unsubscribes its holder.
    (re.compile(r"(/card/)(?!lost\b)[^/\s?#'\"]+"), r"\1<token>"),
    (re.compile(r"(/email/unsubscribe/)[^/\s?#'\"]+"), r"\1<token>"),
    # A terminal key, should an Authorization header ever be quoted.
    (re.compile(r"(Api-Key\s+)\S+", re.IGNORECASE), r"\1<key>"),
)


def mask(text: str) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


class MaskingFilter(logging.Filter):
    """Masks the record's message and traceback in place, before any formatter sees them."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


# The attributes every LogRecord has; anything else on a record came as `extra`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: `time` (UTC), `level`, `logger`, `message`, `request_id`,
    `exception` when there is one and, for the project's log events (records with an
    `event`), each of the event's fields. Other libraries' extras (Django's request object,
    Celery's task data) are left out: only fields the project chose leave the process."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if hasattr(record, "event"):
            entry.update(
                (name, value)
                for name, value in vars(record).items()
                if name not in _RECORD_ATTRIBUTES
            )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def logging_config(*, log_format: str, level: str) -> dict:
    """Django's LOGGING for the given format: one handler on stderr, masking every record."""
    formatter = {"()": JsonFormatter} if log_format == "json" else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": RequestIdFilter},
            "mask": {"()": MaskingFilter},
        },
        "formatters": {"default": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id", "mask"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's loggers have handlers of their own (a console handler in debug, the
            # runserver's request lines): without this, their messages would print twice, or
            # unmasked. Through the root handler they are masked and formatted like the rest.
            "django": {"handlers": [], "propagate": True},
            "django.server": {"handlers": [], "propagate": True},
            # The SQL it logs at DEBUG carries the statements' parameters: personal data.
            "django.db.backends": {"level": "INFO"},
        },
    }


def add_request_id_header(headers: dict | None = None, **kwargs) -> None:
    """Celery's before_task_publish: a task queued during a request carries its id."""
    current = request_id.get()
    if current is not None and headers is not None:
        headers.setdefault(TASK_HEADER, current)


def enter_task(task=None, task_id=None, **kwargs) -> None:
    """Celery's task_prerun: the task's records carry the id of the request that queued it,
    else (a task run in-process) the current one, else the task's own id."""
    current = getattr(task.request, TASK_HEADER, None) or request_id.get() or task_id
    task.request.request_id_token = request_id.set(current)


def leave_task(task=None, **kwargs) -> None:
    """Celery's task_postrun: back to the id before the task (none, in a worker)."""
    token = getattr(task.request, "request_id_token", None)
    if token is not None:
        request_id.reset(token)
