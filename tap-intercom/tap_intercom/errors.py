"""What can go wrong talking to Intercom, as exceptions the streams can act on.

Messages name the request (method and path) and Intercom's error codes, never the
access token or other request headers.
"""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError


class IntercomAPIError(FatalAPIError):
    """A 4xx answer that retrying will not fix; `codes` are Intercom's error codes."""

    def __init__(
        self, message: str, status: int, codes: tuple[str, ...], endpoint: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.codes = codes
        self.endpoint = endpoint  # method and path, e.g. "GET /admins/activity_logs"


class AuthenticationError(IntercomAPIError):
    """401/403: the access token is wrong, expired or lacks a permission."""


class PermissionRefusedError(AuthenticationError):
    """403 (a missing permission, `api_plan_restricted`), or a 401 once the token has
    worked in this run: one endpoint refused, the others may still answer."""


class NotFoundError(IntercomAPIError):
    """404: the object does not exist (any more)."""


class RateLimitedError(RetriableAPIError):
    """429: the rate budget is spent until `X-RateLimit-Reset`."""


class ServerError(RetriableAPIError):
    """5xx, or a body that is not the complete JSON document it should be."""


#: What `IntercomStream.validate_response` raises: Intercom answered (and the answer
#: was accounted to the rate-limit pacer).
ANSWER_ERRORS = (IntercomAPIError, RateLimitedError, ServerError)
