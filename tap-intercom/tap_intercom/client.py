"""The one place that talks HTTP to Intercom.

Every stream derives from `IntercomStream`: base URL and region, headers, the shared
rate-limit pacer, retries with bounded exponential backoff, error messages without
secrets, JSON decoding, and the page loop. Streams only declare what to fetch.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, overload

import backoff
import msgspec
import requests
from backoff.types import Details
from requests.adapters import HTTPAdapter
from requests.utils import resolve_proxies
from singer_sdk import RESTStream
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import Context
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.metrics import Counter
from singer_sdk.singerlib import RecordMessage
from typing_extensions import override

from tap_intercom.drift import DriftGuard, with_drift_column
from tap_intercom.errors import (
    AuthenticationError,
    IntercomAPIError,
    NotFoundError,
    PermissionRefusedError,
    RateLimitedError,
    ServerError,
)
from tap_intercom.pacing import (
    DEFAULT_MAX_WORKERS,
    MAX_RATE_LIMITED_TRIES,
    MAX_TRIES,
    Pacing,
    RateLimitPacer,
    retry_waits,
)
from tap_intercom.pagination import PageToken, next_page_token
from tap_intercom.permissions import permission_for
from tap_intercom.schemas import TimestampError, load_schema, timestamp_converter
from tap_intercom.summary import RunSummary

if TYPE_CHECKING:
    from tap_intercom.tap import TapIntercom

#: A page decoded only as far as a Struct with a `pages` field goes.
PageStruct = TypeVar("PageStruct", bound=msgspec.Struct)

REGION_URLS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
DEFAULT_INTERCOM_VERSION = "2.15"
MAX_PAGE_SIZE = 150
DEFAULT_REQUEST_TIMEOUT_SECONDS = 60

_json_decoder = msgspec.json.Decoder()


@functools.cache
def _decoder_for(payload_type: type[msgspec.Struct]) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(payload_type)


@dataclass
class WorkspaceFacts:
    """What a run learns about its workspace, shared by the tap's streams."""

    #: The token has been accepted once: a 401 after that is one endpoint refusing,
    #: not a bad token.
    token_accepted: bool = False
    #: When the workspace was created (UNIX seconds; 0: Intercom will not say), once
    #: asked (`IntercomStream.workspace_created_at`).
    created_at: int | None = None


def to_rfc3339(unix_seconds: int | float) -> str:
    """The RFC 3339 UTC form used in records and bookmarks."""
    return datetime.fromtimestamp(unix_seconds, UTC).isoformat()


def from_rfc3339(value: str) -> int:
    """UNIX seconds of an ISO-8601 / RFC 3339 date-time (naive means UTC)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def environment_proxies(url: str) -> dict[str, str]:
    """The proxies requests takes from the environment for requests to `url`'s host
    (none when `NO_PROXY` covers it)."""
    return resolve_proxies(requests.Request("GET", url), None, trust_env=True)


def version_tuple(version: str) -> tuple[int, ...]:
    """An `Intercom-Version` as numbers (`2.16` -> (2, 16)); `Unstable` sorts last."""
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (1_000,)


def api_base_url(config: dict[str, Any]) -> str:
    """`api_url` if set, else the `region`'s host (US by default)."""
    if config.get("api_url"):
        return str(config["api_url"]).rstrip("/")
    return REGION_URLS[config.get("region") or "us"]


def _where(response: requests.Response) -> str:
    """The request's method and path, for messages (never its query or headers)."""
    return f"{response.request.method} {response.request.path_url.split('?')[0]}"


def _decode(decoder: msgspec.json.Decoder[Any], response: requests.Response) -> Any:
    """The body as `decoder` reads it; a broken body is a server error (retried)."""
    try:
        return decoder.decode(response.content)
    except msgspec.DecodeError as error:
        raise ServerError(
            f"incomplete or invalid JSON body ({len(response.content)} bytes) on "
            f"{_where(response)}",
            response,
        ) from error


def _error_codes(response: requests.Response) -> tuple[tuple[str, ...], str]:
    """Intercom's `error.list` codes and messages, from a body that may be anything."""
    try:
        body = _json_decoder.decode(response.content)
        errors = body.get("errors") or []
        codes = tuple(str(error.get("code", "")) for error in errors)
        messages = "; ".join(str(error.get("message", "")) for error in errors)
    except (msgspec.DecodeError, AttributeError, TypeError):
        return (), ""
    return codes, messages


class IntercomStream(RESTStream[PageToken | None]):
    """Base of every Intercom stream."""

    #: Top-level key of the response that holds the records.
    records_key: str = "data"
    #: Query parameters sent with every request of the stream.
    extra_params: dict[str, Any] = {}
    primary_keys: tuple[str, ...] = ("id",)
    # Records leave `post_process` matching their schema (drift absorbed, timestamps
    # converted), so the SDK's per-record type conformance is not needed.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    # Redirects are refused: they would resend the bearer token elsewhere.
    allow_redirects = False

    def __init__(self, tap: TapIntercom) -> None:
        super().__init__(tap=tap, schema=with_drift_column(load_schema(self.name)))
        self._convert_timestamps = timestamp_converter(self.schema)
        # Whether any request of this stream has been answered (a 404 before that
        # means the workspace does not have the endpoint).
        self._answered = False
        # A cache of one `requests.Session` per thread (sessions are not thread-safe):
        # a resource, never a value handed between methods.
        self._sessions = threading.local()
        self._send_with_retries = self.request_decorator(self._send_paced)
        self._send_retrying_rate_limits_only = self._retry_rate_limits(self._send_paced)
        self._request_counter: Counter | None = None
        self._request_counter_lock = threading.Lock()
        #: The tap's record of this run's drift and skipped streams.
        self.run_summary: RunSummary = tap.run_summary
        #: The tap's facts about the workspace.
        self.workspace: WorkspaceFacts = tap.workspace
        #: The run's pacer of the workspace's rate budget.
        self.pacer: RateLimitPacer = tap.pacer

    # -- configuration ------------------------------------------------------------

    @property
    @override
    def url_base(self) -> str:
        """The configured API host."""
        return api_base_url(dict(self.config))

    @cached_property
    def pacing(self) -> Pacing:
        """How this stream's requests are paced (the run's pacer, `max_workers`)."""
        return Pacing(self.pacer, self.max_workers, self.logger)

    def workspace_created_at(self) -> int:
        """When the workspace was created (`GET /me`), 0 if Intercom will not say."""
        if self.workspace.created_at is None:
            try:
                # `call`, not `request`: /me says nothing of the stream's own endpoint.
                app = self.call("/me").get("app") or {}
                self.workspace.created_at = int(app.get("created_at") or 0)
            except IntercomAPIError as error:
                self.logger.info("Workspace creation time unknown (%s)", error)
                self.workspace.created_at = 0
        return self.workspace.created_at

    @property
    def intercom_version(self) -> str:
        """The `Intercom-Version` header sent on every request."""
        return str(self.config.get("intercom_version") or DEFAULT_INTERCOM_VERSION)

    @property
    def page_size(self) -> int:
        """Records per page (Intercom's maximum is 150)."""
        return int(self.config.get("page_size") or MAX_PAGE_SIZE)

    @property
    def max_workers(self) -> int:
        """At most this many parallel requests for per-item endpoints."""
        return int(self.config.get("max_workers") or DEFAULT_MAX_WORKERS)

    @property
    @override
    def timeout(self) -> int:
        """Seconds before a request is abandoned (and retried)."""
        return int(self.config.get("request_timeout") or DEFAULT_REQUEST_TIMEOUT_SECONDS)

    @cached_property
    @override
    def http_headers(self) -> dict[str, str]:
        """Headers of every request, the bearer token included."""
        return {
            "Authorization": f"Bearer {self.config['access_token']}",
            "Intercom-Version": self.intercom_version,
            "Accept": "application/json",
            "User-Agent": self.user_agent,
        }

    @cached_property
    @override
    def user_agent(self) -> str:
        """`user_agent` from the config, else the tap's name and version."""
        return str(self.config.get("user_agent") or f"tap-intercom/{self._tap.plugin_version}")

    @property
    @override
    def requests_session(self) -> requests.Session:
        """One session per thread: requests' sessions are not thread-safe.

        The proxy the environment names for the API host (`HTTPS_PROXY`, `ALL_PROXY`,
        `NO_PROXY`...) is resolved once, when the session is made: requests would
        otherwise walk the whole environment three times per request, about a tenth
        of the tap's CPU on a fast API. Every request goes to that one host."""
        session: requests.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.proxies = environment_proxies(self.url_base)
            session.trust_env = False
            self._sessions.session = session
        return session

    # -- one request --------------------------------------------------------------

    def _send_paced(
        self,
        prepared_request: requests.PreparedRequest,
        context: Context | None,
        decoder: msgspec.json.Decoder[Any],
    ) -> Any:
        """Send once under the pacer, through the SDK's `_request` (it sends with
        `requests_session`, `timeout` and `allow_redirects`, logs the SDK's
        `http_request_duration` metric, and hands the answer to `validate_response`),
        and return the decoded body."""
        response = self.pacer.send(lambda: self._request(prepared_request, context))
        payload = _decode(decoder, response)
        self.workspace.token_accepted = True
        return payload

    @override
    def validate_response(self, response: requests.Response) -> None:
        """Account the answer to the pacer and raise the right error for the status
        (always one of `ANSWER_ERRORS`)."""
        self.pacer.account(response.status_code, response.headers, response.elapsed.total_seconds())
        status = response.status_code
        where = _where(response)
        if status == 429:
            raise RateLimitedError(f"429 rate limit reached on {where}", response)
        if status >= 500:
            raise ServerError(f"{status} server error on {where}", response)
        if status >= 400:
            codes, messages = _error_codes(response)
            detail = f"{status} {','.join(codes) or response.reason}: {messages}".rstrip(": ")
            if status in (401, 403):
                # A 401 before the token ever worked is a bad token: fatal at once.
                refused = status == 403 or self.workspace.token_accepted
                raise (PermissionRefusedError if refused else AuthenticationError)(
                    f"Intercom refused the access token on {where} ({detail}). "
                    "Check that `access_token` is valid and that the app has the "
                    f'permission this stream needs ("{permission_for(self.name)}").',
                    status,
                    codes,
                    where,
                )
            error_class = NotFoundError if status == 404 else IntercomAPIError
            raise error_class(f"Intercom answered {detail} on {where}", status, codes, where)

    # -- retries (singer-sdk backoff hooks) ----------------------------------------

    @override
    def request_decorator(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Retry transient failures (5xx, broken bodies, timeouts, drops) with bounded
        exponential backoff, and 429s until the rate window lets the request through."""
        return backoff.on_exception(
            self.backoff_wait_generator,
            (
                ServerError,
                ConnectionResetError,
                requests.exceptions.Timeout,
                requests.exceptions.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ),
            max_tries=self.backoff_max_tries,
            on_backoff=self.backoff_handler,
            jitter=None,  # the wait generator adds its own jitter
            logger=None,
        )(self._retry_rate_limits(func))

    def _retry_rate_limits(self, func: Callable[..., Any]) -> Callable[..., Any]:
        return backoff.on_exception(
            self.backoff_wait_generator,
            RateLimitedError,
            max_tries=MAX_RATE_LIMITED_TRIES,
            on_backoff=self.backoff_handler,
            jitter=None,
            logger=None,
        )(func)

    @override
    def backoff_max_tries(self) -> int:
        """Attempts per request for transient failures other than 429."""
        return MAX_TRIES

    @override
    def backoff_wait_generator(self) -> Generator[float, Any, None]:
        """The waits before retries (`tap_intercom.pacing.retry_waits`)."""
        return retry_waits()

    @override
    def backoff_handler(self, details: Details) -> None:
        """Log the retry without the request (its headers hold the token)."""
        self.logger.warning(
            "Retrying %s in %.1f s after attempt %d: %s",
            self.name,
            details.get("wait", 0.0),
            details.get("tries", 0),
            details.get("exception"),
        )

    # -- request building and the page loop ---------------------------------------

    def call(
        self,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        retry_only_rate_limits: bool = False,
        decode_as: type[msgspec.Struct] | None = None,
    ) -> Any:
        """One API call (GET, or POST when there is a body), retried as configured: the
        decoded body, plain JSON values, or only the fields of the `decode_as` Struct
        (the rest is skipped, not decoded)."""
        prepared = self.build_prepared_request(
            method="POST" if body is not None else "GET",
            url=self.url_base + path,
            params=params or {},
            json=body,
            headers={**self.http_headers, **headers} if headers else self.http_headers,
        )
        send = (
            self._send_retrying_rate_limits_only
            if retry_only_rate_limits
            else self._send_with_retries
        )
        payload = send(prepared, None, _decoder_for(decode_as) if decode_as else _json_decoder)
        if self._request_counter is not None:
            with self._request_counter_lock:  # requests come from worker threads too
                self._request_counter.increment()
        return payload

    def request(self, path: str, **kwargs: Any) -> Any:
        """`call(path, **kwargs)` for this stream's own endpoint: an answer tells that
        the workspace has the endpoint (see `_sync_records`)."""
        payload = self.call(path, **kwargs)
        self._answered = True
        return payload

    def request_json(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """The decoded body of `request(path, **kwargs)`, a JSON object."""
        payload: dict[str, Any] = self.request(path, **kwargs)
        return payload

    @overload
    def iter_pages(
        self,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        decode_as: None = None,
    ) -> Generator[dict[str, Any], None, None]: ...

    @overload
    def iter_pages(
        self,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        decode_as: type[PageStruct],
    ) -> Generator[PageStruct, None, None]: ...

    def iter_pages(
        self,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        decode_as: type[PageStruct] | None = None,
    ) -> Generator[dict[str, Any] | PageStruct, None, None]:
        """Every page of a list (GET with `params`) or search (POST with `body`), as
        dicts, or as `decode_as` Structs (which must have a `pages` field)."""
        token: PageToken = {}
        while True:
            page_path, page_params, page_body = path, dict(params or {}), body
            if "path" in token:  # a URL-valued `pages.next`
                page_path, page_params = token["path"], token["params"]
            elif "page" in token:
                page_params["page"] = token["page"]
            elif "starting_after" in token:
                if body is not None:
                    page_body = {
                        **body,
                        "pagination": {
                            **body["pagination"],
                            "starting_after": token["starting_after"],
                        },
                    }
                else:
                    page_params["starting_after"] = token["starting_after"]
            payload = self.request(
                page_path, params=page_params, body=page_body, headers=headers, decode_as=decode_as
            )
            yield payload
            following = next_page_token(payload)
            if following is None:
                return
            if following == token:
                raise RuntimeError(
                    f"Loop detected in pagination. Pagination token {following} is "
                    "identical to prior token."
                )
            token = following

    def list_params(self) -> dict[str, Any]:
        """Query parameters of the first page of a list."""
        return {"per_page": self.page_size, **self.extra_params}

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Every record of the list at `path`."""
        for payload in self.iter_pages(self.path, params=self.list_params()):
            yield from payload.get(self.records_key) or ()

    @cached_property
    def _every_property_selected(self) -> bool:
        return not any(selected is False for selected in self.mask.values())

    @override
    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[RecordMessage, None, None]:
        """The SDK's record messages, minus two walks of every record that do nothing
        here: dropping deselected properties when none is deselected, and type
        conformance (records already match their schema, see TYPE_CONFORMANCE_LEVEL)."""
        if not self._every_property_selected:
            yield from super()._generate_record_messages(record)
            return
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=datetime.now(UTC),
                )

    # -- drift and refusals ---------------------------------------------------------

    @cached_property
    def drift_guard(self) -> DriftGuard:
        """Drift handling compiled from the schema the SCHEMA message announces."""
        return DriftGuard(
            self.effective_schema,
            self.run_summary.drift_log(self.name),
            self._announce_property,
        )

    @property
    def key_fields(self) -> tuple[str, ...]:
        """The key fields a record must bring itself: its primary key but the parent id
        the tap adds to a child's records."""
        added = getattr(self, "parent_key", None)
        return tuple(key for key in self.primary_keys if key != added)

    def data_list(self, path: str, owner: str) -> list[dict[str, Any]]:
        """The keyed items of an unpaged list answer (`GET path`, its `data`)."""
        return self.keyed_items(
            self.request_json(path).get("data"),
            self.key_fields,
            owner=owner,
            path="data",
            source=f"GET {path}",
        )

    def keyed_pages(
        self, path: str, params: dict[str, Any], records_key: str, owner: str
    ) -> list[dict[str, Any]]:
        """The keyed items of every page of a paged list answer (`GET path`)."""
        items: list[dict[str, Any]] = []
        for payload in self.iter_pages(path, params=params):
            items += self.keyed_items(
                payload.get(records_key),
                self.key_fields,
                owner=owner,
                path=records_key,
                source=f"GET {path}",
            )
        return items

    def keyed_items(
        self, items: Any, keys: tuple[str, ...], *, owner: str, path: str, source: str = ""
    ) -> list[dict[str, Any]]:
        """The items of a nested list (at `path` in `source`'s answer, or in the record
        itself; `owner` says whose list it is) that carry every key the tap reads of
        them. Any other item is schema drift: skipped with a warning naming the stream,
        the owner and the item's path, counted in the run summary; the run goes on (a
        record that embeds the list keeps it as Intercom sent it)."""
        kept = []
        for index, item in enumerate(items if isinstance(items, list) else ()):
            missing = next(
                (key for key in keys if not isinstance(item, dict) or item.get(key) is None),
                None,
            )
            if missing is None:
                kept.append(item)
                continue
            where = f"{source} {path}[{index}]".lstrip()
            self.logger.warning(
                "%s: %s: %s has no %s; item skipped (schema drift; the run goes on)",
                self.name,
                owner,
                where,
                missing,
            )
            self.run_summary.drift_log(self.name).note_skipped(f"{path}[{index}]", missing)
        return kept

    def _announce_property(self, name: str, schema: dict[str, Any]) -> None:
        """Add a property to the stream's schema and send the new SCHEMA message."""
        self.effective_schema["properties"][name] = schema
        for stream_map in self.stream_maps:
            # Only maps that pass records through keep the new field; custom stream
            # maps decide for themselves what they emit.
            if isinstance(stream_map, SameRecordTransform) and not stream_map.flattening_enabled:
                properties = stream_map.transformed_schema.setdefault("properties", {})
                properties[name] = schema
        self._write_schema_message()

    @override
    def post_process(
        self, row: dict[str, Any], context: Context | None = None
    ) -> dict[str, Any] | None:
        """Drift absorbed (see `tap_intercom.drift`), then UNIX-second timestamps to
        RFC 3339 strings, in place."""
        record = self.drift_guard.absorb(row)
        try:
            return self._convert_timestamps(record)
        except TimestampError:
            # A number no date-time can be made of: the thorough pass moves it aside.
            return self._convert_timestamps(self.drift_guard.absorb(record, thorough=True))

    @contextmanager
    def counting_requests(self, context: Context | None) -> Iterator[None]:
        """Count this stream's API calls while the block runs (one metric per stream;
        a no-op when they are being counted already)."""
        if self._request_counter is not None:
            yield
            return
        with self.get_http_request_counter() as counter:
            counter.with_context(context)
            self._request_counter = counter
            try:
                yield
            finally:
                self._request_counter = None

    @override
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, Any], Any, Any]:
        """The SDK's record loop (all of a stream's sync: `sync` is final), with
        - this stream's API calls counted as the SDK's `http_request_count` metric (the
          SDK counts them only in `request_records`, which the streams here replace
          with `request`);
        - a stream Intercom refuses skipped (see docs/permissions.md): its bookmark
          stays where it was and the run goes on;
        - then this stream's drift warnings (one per drift, counted)."""
        try:
            with self.counting_requests(context):
                yield from super()._sync_records(context, write_messages=write_messages)
        except (PermissionRefusedError, NotFoundError) as error:
            whole_endpoint = isinstance(error, PermissionRefusedError) or not self._answered
            if not whole_endpoint or self.config.get("strict_permissions"):
                raise
            permission = permission_for(self.name)
            self.logger.warning(
                "Skipping stream %s: Intercom refused %s with %d %s. Grant the app the "
                'permission "%s" (or check the workspace\'s plan) to extract it; its '
                "bookmark is unchanged. Set strict_permissions to fail instead.",
                self.name,
                error.endpoint,
                error.status,
                ",".join(error.codes) or "(no code)",
                permission,
            )
            self.run_summary.skip(self.name, error.endpoint, error.status, error.codes, permission)
        finally:
            for entry in self.run_summary.drift_log(self.name).entries():
                self.logger.warning(
                    "Schema drift in %s at %s: declared %s, Intercom sent %s %d times (%s)",
                    self.name,
                    entry["path"],
                    entry["declared"],
                    entry["seen"],
                    entry["count"],
                    entry["outcome"],
                )
