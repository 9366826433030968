"""Invokes a Lambda handler in this process the way the Lambda service does for a synchronous invocation.

The event and the response cross a JSON boundary (so a handler returning something JSON cannot carry
fails here as it would there), the request and response payload limits apply (6 MB each; the response
limit is Lambda's 6,291,556 bytes), the handler gets a context object with the attributes Powertools reads,
and what the function prints (its Powertools logs and EMF metrics) goes to a log file, as CloudWatch Logs
would take it, instead of the terminal.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

MAX_REQUEST_BYTES = 6 * 1024 * 1024
MAX_RESPONSE_BYTES = 6_291_556
"""Lambda's synchronous response limit, as its error message states it."""


class FunctionError(RuntimeError):
    """The invocation failed: the handler raised, or a payload broke a limit. Firehose retries these."""


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that Powertools and handlers read."""

    function_name: str
    invoked_function_arn: str
    timeout_seconds: float = 60.0
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@contextlib.contextmanager
def _output(log: TextIO | None) -> Iterator[None]:
    if log is None:
        yield
        return
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        yield
    log.flush()


@dataclass
class LocalFunction:
    """One function, loaded once (a warm container), invoked with `invoke(event)`."""

    name: str
    arn: str
    load: Callable[[], ModuleType]
    """Imports the handler module (e.g. `lambdas.packaging.load_handler`); called once, with output captured."""
    log_path: Path | None = None
    timeout_seconds: float = 60.0
    _handler: Callable[[dict[str, Any], Any], Any] | None = field(default=None, repr=False)
    _log: TextIO | None = field(default=None, repr=False)

    def _ensure_loaded(self) -> Callable[[dict[str, Any], Any], Any]:
        if self._handler is None:
            if self.log_path is not None:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                self._log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - lives with the function
            # Loggers created at import bind the stream that is sys.stdout now: the log file.
            with _output(self._log):
                self._handler = self.load().handler
        return self._handler

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        handler = self._ensure_loaded()
        request = json.dumps(event)
        if len(request.encode()) > MAX_REQUEST_BYTES:
            raise FunctionError(f"Request payload size ({len(request.encode())} bytes) exceeded maximum allowed "
                                f"payload size ({MAX_REQUEST_BYTES} bytes).")
        context = LambdaContext(self.name, self.arn, timeout_seconds=self.timeout_seconds)
        with _output(self._log):
            try:
                response = handler(json.loads(request), context)
            except Exception as exc:  # the Lambda service reports any exception as a function error
                raise FunctionError(f"{type(exc).__name__}: {exc}") from exc
        try:
            body = json.dumps(response)
        except (TypeError, ValueError) as exc:
            raise FunctionError(f"the response is not JSON serialisable: {exc}") from exc
        if len(body.encode()) > MAX_RESPONSE_BYTES:
            raise FunctionError(f"Response payload size ({len(body.encode())} bytes) exceeded maximum allowed "
                                f"payload size ({MAX_RESPONSE_BYTES} bytes).")
        if context.get_remaining_time_in_millis() == 0:
            raise FunctionError(f"Task timed out after {self.timeout_seconds:.2f} seconds")
        return json.loads(body)

    def close(self) -> None:
        if self._log is not None and not self._log.closed:
            self._log.close()
