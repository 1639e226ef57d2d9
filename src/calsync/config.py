"""Configuration: one TOML file, validated into `Settings` by `load(path)`.

The file is `calsync.toml`, or the path given by `--config` or `CALSYNC_CONFIG`.
`CALSYNC_DATABASE_URL` overrides the database URL. Secrets are never written in the file:
a connection names where its secret is, an environment variable (`password_env`,
`token_env`, `service_account_env`) or a file (`token_file`, `service_account_file`).
This module and `config_mail` (the mail server's password, the same way) are the only ones
that read the environment and those files.
"""

from __future__ import annotations

import json
import os
import re
import threading
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from calsync.config_mail import SmtpSettings
from calsync.config_policies import (
    ApprovalRuleSettings,
    ApprovalSettings,
    GroupSettings,
    LocationSettings,
    PoliciesSettings,
    PolicySettings,
)
from calsync.domain.approvals import ApprovalRules, Groups
from calsync.domain.items import (
    CalendarBinding,
    ConflictResolution,
    ItemKind,
    WorkplaceItem,
)
from calsync.domain.notices import AddressBook
from calsync.domain.synchronizations import SweepGuard
from calsync.errors import ConfigError, ConfigNotFound

DEFAULT_PATH = Path("calsync.toml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Strict):
    url: str = "sqlite:///calsync.db"


class SyncSettings(_Strict):
    horizon_days: Annotated[int, Field(gt=0, le=3650)] = 365
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 5
    backoff_seconds: Annotated[float, Field(gt=0)] = 2.0
    backoff_max_seconds: Annotated[float, Field(gt=0)] = 600.0
    #: A claim's lease, renewed every third of it while its run is alive: a dead run's
    #: event is taken over within a minute.
    lease_seconds: Annotated[float, Field(gt=0)] = 60.0
    #: Outbound events of different calendar objects sent at once, per connection.
    push_concurrency: Annotated[int, Field(ge=1, le=64)] = 8
    #: After SIGTERM, how long `calsync worker` lets the events in hand finish before it
    #: gives their claims back to the queue and exits.
    stop_grace_seconds: Annotated[float, Field(gt=0)] = 20.0
    apply_batch: Annotated[int, Field(gt=0)] = 500
    poll_seconds: Annotated[float, Field(gt=0)] = 300.0
    #: Where the service's room answers on its own: a booking it has not answered this
    #: many minutes after calsync sent it is read again, then given up as `conflicted`.
    room_answer_wait_minutes: Annotated[float, Field(gt=0)] = 10.0
    #: A full listing keeping less than this share of the known entries (of at least
    #: `sweep_hold_minimum` of them) cancels nothing until confirmed; one keeping none of
    #: them never does.
    sweep_hold_share: Annotated[float, Field(ge=0, le=1)] = SweepGuard.share
    sweep_hold_minimum: Annotated[int, Field(ge=1)] = SweepGuard.minimum

    def sweep_guard(self) -> SweepGuard:
        return SweepGuard(share=self.sweep_hold_share, minimum=self.sweep_hold_minimum)


class RetentionSettings(_Strict):
    """How long the exchange log is kept (`calsync purge`, and the worker once an
    `interval_minutes`); 0 keeps forever. Nothing waiting or running is ever deleted."""

    #: Processed events and their calendar items, this many days after they were processed.
    processed_days: Annotated[int, Field(ge=0)] = 30
    #: Events in error, and events with a failed calendar item: kept longer, to be seen.
    error_days: Annotated[int, Field(ge=0)] = 90
    #: Synchronization summaries; the newest of each item and any that a kept event or
    #: calendar item points to are kept whatever their age. One per poll: 500 rooms polled
    #: every five minutes write 33 MB of them a day (bench/retention.py), 3 GB in 90 days.
    synchronization_days: Annotated[int, Field(ge=0)] = 90
    #: Rows deleted per transaction: a purge never holds the database for long.
    batch: Annotated[int, Field(gt=0, le=100_000)] = 5000
    interval_minutes: Annotated[float, Field(gt=0)] = 60.0


class PushSettings(_Strict):
    """Push notifications (Google watch channels). Only hints: polling stays on.

    - `address`: the public https URL of calsync's webhook route (`calsync serve`'s
      `POST /webhooks/google`), as the provider reaches it; empty turns push off (and
      the worker stops the channels it opened).
    - `ttl_seconds`: how long a channel is asked to live (Google caps it).
    - `renew_before_seconds`: a channel is replaced this long before it expires; the new
      one opens before the old one stops, so no change goes unnoticed in between.
    """

    address: str = ""
    ttl_seconds: Annotated[int, Field(ge=60)] = 7 * 24 * 3600
    renew_before_seconds: Annotated[int, Field(ge=0)] = 24 * 3600

    @field_validator("address")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        if not value:
            return value
        try:
            parts = urlsplit(value)
            host = parts.hostname or ""
        except ValueError:
            raise ValueError("the address must be an https URL") from None
        loopback = host in ("127.0.0.1", "::1", "localhost")
        if parts.username is not None or parts.password is not None:
            raise ValueError("the address must not hold a user or password")
        if not host or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
            raise ValueError("the address must be an https URL (http only on a loopback host)")
        return value

    @model_validator(mode="after")
    def _renewed_in_time(self) -> PushSettings:
        if self.renew_before_seconds >= self.ttl_seconds:
            raise ValueError("renew_before_seconds must be less than ttl_seconds")
        return self


class _ConnectionLimits(_Strict):
    """What every connection allows its service.

    - `timeout`: seconds one read or connect may wait for the server.
    - `deadline_seconds`: the most one request may take, answer read in full (a server
      that drips its answer fails then, however often it sends a byte).
    - `max_answer_bytes`: the largest answer read (64 MiB); a larger one fails unread.
    - `max_sync_rounds`: how many requests one read may chain (a truncated (507)
      sync-collection answer followed, pages of a Google listing) before it fails.

    Hitting a limit fails the event with a message naming the setting; it is retried with
    backoff like an unreachable server.
    """

    timeout: Annotated[float, Field(gt=0)] = 30.0
    deadline_seconds: Annotated[float, Field(gt=0)] = 120.0
    max_answer_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024 * 1024
    max_sync_rounds: Annotated[int, Field(ge=1)] = 100


class CalDAVConnection(_ConnectionLimits):
    """A CalDAV account. `url`: the service's base URL. It may not hold a user or password;
    requests go to its scheme, host and port only. Authentication is basic (`username`
    and `password_env`), bearer (an OAuth access token or API token sent as
    `Authorization: Bearer`, by reference: `token_env` names an environment variable,
    `token_file` a file holding it) or none; never both."""

    kind: Literal["caldav"]
    url: str
    username: str = ""
    password_env: str = ""
    token_env: str = ""
    token_file: str = ""

    @model_validator(mode="after")
    def _one_way_in(self) -> CalDAVConnection:
        if self.token_env and self.token_file:
            raise ValueError(
                "give the bearer token by at most one of token_env (an environment "
                "variable) or token_file (a path)"
            )
        if (self.token_env or self.token_file) and (self.username or self.password_env):
            raise ValueError(
                "authenticate by basic (username, password_env) or by bearer token "
                "(token_env or token_file), not both"
            )
        return self

    def secret(self) -> str | None:
        return _from_env(self.password_env, "a password") if self.password_env else None

    def bearer_token(self) -> str | None:
        """The bearer token, read where the settings say; ConfigError naming where (never
        repeating what is there) if it cannot be had or is no token."""
        if self.token_file:
            text = _read_token_file(self.token_file)
            return _token_in(f"token_file {self.token_file}", text)
        if self.token_env:
            text = _from_env(self.token_env, "a bearer token")
            return _token_in(f"environment variable {self.token_env}", text)
        return None

    def bearer_token_source(self) -> BearerTokenSource | None:
        """Where the bearer token is read again before each request (it is rotated in
        place: OAuth access tokens expire within the hour); None without one."""
        if not (self.token_file or self.token_env):
            return None
        return BearerTokenSource(self)

    def check_secrets(self) -> None:
        """ConfigError if a secret it names cannot be had."""
        self.secret()
        self.bearer_token()


class BearerTokenSource:
    """A connection's bearer token, read again when it may have changed: a token file
    when its modification time or size changed, an environment variable every time.

    `current()` before each request keeps the last good token while a file being
    rewritten cannot be read; `fresh()` (after the service refused the token) reads
    again whatever the file's times say, and raises if it cannot."""

    def __init__(self, connection: CalDAVConnection) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self._signature: tuple[int, int] | None = None
        self._token: str | None = None

    def __repr__(self) -> str:  # the token is a secret: never in a traceback
        return "BearerTokenSource(<hidden>)"

    def current(self) -> str:
        with self._lock:
            if self._token is not None and not self._may_have_changed():
                return self._token
            try:
                return self._read()
            except ConfigError:
                if self._token is None:
                    raise
                return self._token

    def fresh(self) -> str:
        with self._lock:
            return self._read()

    def _may_have_changed(self) -> bool:
        return not self._connection.token_file or self._file_signature() != self._signature

    def _read(self) -> str:
        signature = self._file_signature() if self._connection.token_file else None
        token = self._connection.bearer_token()
        assert token is not None, "a source is made for a connection with a token"
        self._token, self._signature = token, signature
        return token

    def _file_signature(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self._connection.token_file)
        except OSError:
            return None
        return (status.st_mtime_ns, status.st_size)


def _read_token_file(path: str) -> str:
    """The text of a token file; a UTF-8 byte order mark (Notepad, PowerShell) is dropped."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        why = getattr(error, "strerror", None) or "not UTF-8 text"
        raise ConfigError(f"token_file {path}: cannot be read ({why})") from error


def _token_in(where: str, text: str) -> str:
    """The one token `text` holds; ConfigError saying what is wrong, never what is there."""
    token = text.strip()
    if not token:
        raise ConfigError(f"{where}: holds no bearer token (it is empty)")
    if not _TOKEN.fullmatch(token):
        raise ConfigError(f"{where}: not a bearer token (one line of visible ASCII, no spaces)")
    if len(token) < _SHORTEST_TOKEN:
        raise ConfigError(
            f"{where}: a bearer token of under {_SHORTEST_TOKEN} characters is refused "
            "(too short to be kept out of recorded texts safely)"
        )
    return token


#: A bearer token as an HTTP header carries it: visible ASCII, no spaces (RFC 6750 §2.1
#: is stricter; real services hand out JWTs and opaque tokens within this).
_TOKEN = re.compile(r"[\x21-\x7e]+", re.ASCII)
#: A shorter token could not be searched for in recorded texts without blanking ordinary
#: words (the Wire redacts every echo of it).
_SHORTEST_TOKEN = 8


class GoogleConnection(_ConnectionLimits):
    """A Google Workspace account: a service account with domain-wide delegation acting
    as `subject` (a user who may manage the rooms' resource calendars). Its key by
    reference only: `service_account_file` (a path) or `service_account_env` (an
    environment variable holding the key's JSON). `api_url`: Calendar API v3's base URL.
    Each binding's `calendar` is the room's resource email."""

    kind: Literal["google"]
    subject: str
    service_account_file: str = ""
    service_account_env: str = ""
    api_url: str = "https://www.googleapis.com/calendar/v3"
    page_size: Annotated[int, Field(ge=1, le=2500)] = 250

    @property
    def url(self) -> str:
        return self.api_url

    @model_validator(mode="after")
    def _one_key(self) -> GoogleConnection:
        if bool(self.service_account_file) == bool(self.service_account_env):
            raise ValueError(
                "give the service account key by exactly one of service_account_file "
                "(a path) or service_account_env (an environment variable)"
            )
        return self

    def check_secrets(self) -> None:
        """ConfigError if its key cannot be had."""
        self.service_account_info()

    def service_account_info(self) -> dict[str, Any]:
        """The service account key as JSON; ConfigError naming what is missing or wrong."""
        if self.service_account_file:
            where = f"service_account_file {self.service_account_file}"
            try:
                text = Path(self.service_account_file).read_text(encoding="utf-8")
            except OSError as error:
                raise ConfigError(f"{where}: cannot be read ({error.strerror})") from error
        else:
            where = f"environment variable {self.service_account_env}"
            text = _from_env(self.service_account_env, "a service account key")
        try:
            info = json.loads(text)
        except ValueError as error:
            raise ConfigError(f"{where}: not a service account key (not JSON)") from error
        if not isinstance(info, dict):
            raise ConfigError(f"{where}: not a service account key (not a JSON object)")
        missing = [k for k in ("client_email", "private_key", "token_uri") if k not in info]
        if missing:
            raise ConfigError(f"{where}: not a service account key (no {', '.join(missing)})")
        return info


ConnectionSettings = Annotated[CalDAVConnection | GoogleConnection, Field(discriminator="kind")]


def _from_env(variable: str, what: str) -> str:
    value = os.environ.get(variable)
    if value is None:
        raise ConfigError(f"environment variable {variable} ({what}) is not set")
    return value


class BindingSettings(_Strict):
    connection: str
    calendar: str
    room_address: str = ""
    active: bool = True
    window_past_days: Annotated[int, Field(ge=0)] = 30
    window_ahead_days: Annotated[int, Field(gt=0)] | None = None
    dry_run: bool = False
    #: Whose change wins when calsync's pending change meets a change made in the calendar
    #: to an object calsync created: "calendar" (default) or "calsync".
    conflict_resolution: ConflictResolution = ConflictResolution.calendar
    #: The room's own calendar approves requests too (its delegates decide): calsync reads
    #: its answer instead of answering, and confirms a booking once both sides approved.
    room_approves: bool = False


class ItemSettings(_Strict):
    name: Annotated[str, Field(min_length=1)]
    kind: ItemKind = ItemKind.room
    time_zone: str = "UTC"
    capacity: Annotated[int, Field(ge=1)] = 1
    location: LocationSettings = LocationSettings()
    policy: PolicySettings = PolicySettings()
    binding: BindingSettings | None = None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value


class WebSettings(_Strict):
    """The admin pages (`calsync.web`). `session_secret_env` names an environment variable
    holding the key that signs session cookies (at least 32 characters); without one, each
    `calsync serve` process draws its own at start, so sessions end when it restarts and
    are not shared between processes behind one proxy. A session lasts `session_hours`."""

    session_secret_env: str = ""
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 8.0

    def session_secret(self) -> str | None:
        if not self.session_secret_env:
            return None
        secret = _from_env(self.session_secret_env, "the session secret")
        if len(secret) < 32:
            raise ConfigError(
                f"environment variable {self.session_secret_env} (the session secret) must "
                "hold at least 32 characters"
            )
        return secret


class Settings(_Strict):
    database: DatabaseSettings = DatabaseSettings()
    sync: SyncSettings = SyncSettings()
    retention: RetentionSettings = RetentionSettings()
    push: PushSettings = PushSettings()
    connections: dict[str, ConnectionSettings] = {}
    items: list[ItemSettings] = []
    policies: PoliciesSettings = PoliciesSettings()
    groups: dict[str, GroupSettings] = {}
    approvals: ApprovalSettings = ApprovalSettings()
    approval_rules: list[ApprovalRuleSettings] = []
    smtp: SmtpSettings | None = None
    web: WebSettings = WebSettings()

    @model_validator(mode="after")
    def _bindings_name_connections(self) -> Settings:
        for name, connection in self.connections.items():
            _check_connection_url(name, connection.url)
        names = [item.name for item in self.items]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"item names must be unique; repeated: {', '.join(duplicates)}")
        for item in self.items:
            if item.binding and item.binding.connection not in self.connections:
                raise ValueError(
                    f"item {item.name!r} binds to unknown connection {item.binding.connection!r}"
                )
        _check_approval_rules(self)
        return self

    def connection(self, name: str) -> ConnectionSettings:
        if name not in self.connections:
            raise ConfigError(f"no connection named {name!r} in the configuration")
        return self.connections[name]

    def check_secrets(self) -> None:
        """ConfigError naming each connection whose secret cannot be had, and where it
        was looked for (never what is there)."""
        missing = []
        for name, connection in self.connections.items():
            try:
                connection.check_secrets()
            except ConfigError as error:
                missing.append(f"connection {name!r}: {error}")
        if self.smtp is not None:
            try:
                self.smtp.check_secrets()
            except ConfigError as error:
                missing.append(str(error))
        try:
            self.web.session_secret()
        except ConfigError as error:
            missing.append(str(error))
        if missing:
            raise ConfigError("; ".join(missing))

    def workplace_items(self) -> list[WorkplaceItem]:
        return [self._domain_item(item) for item in self.items]

    def approval_rules_in_order(self) -> ApprovalRules:
        return ApprovalRules(
            rules=tuple(rule.rule() for rule in self.approval_rules),
            out_of_policy=self.approvals.out_of_policy.performer(),
            expire_after=timedelta(hours=self.approvals.expire_after_hours),
        )

    def group_members(self) -> Groups:
        return {name: frozenset(group.members) for name, group in self.groups.items()}

    def address_book(self) -> AddressBook:
        """Where approvers are written to: the groups' members, each role's addresses."""
        roles = self.approvals.role_addresses.items()
        return AddressBook(
            groups=self.group_members(),
            roles={role: frozenset(addresses) for role, addresses in roles},
        )

    def roles_without_address(self) -> list[str]:
        """The roles that decide approvals (by a rule or out of policy) with no address in
        `[approvals] role_addresses`: with [smtp] set, their requests are mailed to nobody."""
        performers = [rule.performer for rule in self.approval_rules]
        performers.append(self.approvals.out_of_policy)
        named = {p.role for p in performers if p.role is not None}
        return sorted(named - set(self.approvals.role_addresses))

    def _domain_item(self, item: ItemSettings) -> WorkplaceItem:
        location = item.location.location()
        return WorkplaceItem(
            name=item.name,
            kind=item.kind,
            time_zone=item.time_zone,
            capacity=item.capacity,
            location=location,
            policy=self.policies.defaults_model().policy_for(
                item.kind, location, item.policy.layer()
            ),
            binding=self._domain_binding(item.binding),
        )

    def _domain_binding(self, binding: BindingSettings | None) -> CalendarBinding | None:
        if binding is None:
            return None
        ahead = binding.window_ahead_days or self.sync.horizon_days
        return CalendarBinding(
            connection=binding.connection,
            calendar=binding.calendar,
            room_address=binding.room_address.lower(),
            active=binding.active,
            window_past=timedelta(days=binding.window_past_days),
            window_ahead=timedelta(days=ahead),
            dry_run=binding.dry_run,
            conflict_resolution=binding.conflict_resolution,
            room_approves=binding.room_approves,
        )


def _check_approval_rules(settings: Settings) -> None:
    """Rule names are unique, name known items and groups, and each can be reached."""
    names = [rule.name for rule in settings.approval_rules]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"approval rule names must be unique; repeated: {', '.join(repeated)}")
    items = {item.name for item in settings.items}
    performers = [(f"approval rule {r.name!r}", r.performer) for r in settings.approval_rules]
    performers.append(("approvals.out_of_policy", settings.approvals.out_of_policy))
    for where, performer in performers:
        if performer.group is not None and performer.group not in settings.groups:
            raise ValueError(f"{where} names unknown group {performer.group!r}")
    catch_all = None
    for rule in settings.approval_rules:
        if catch_all is not None:
            raise ValueError(
                f"approval rule {rule.name!r} is never reached: rule {catch_all!r} before it "
                "matches every booking"
            )
        unknown = sorted(set(rule.items) - items)
        if unknown:
            raise ValueError(f"approval rule {rule.name!r} names unknown item {unknown[0]!r}")
        if rule.rule().matches_every_booking:
            catch_all = rule.name


def _check_connection_url(name: str, url: str) -> None:
    """An http(s) URL with a host, and no user or password in it: those would end up in
    logs and exchanges. The message never repeats the URL, which may hold the password."""
    try:
        parts = urlsplit(url)
        held = parts.username is not None or parts.password is not None
        usable = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        held, usable = "@" in url, False
    if held:
        raise ValueError(
            f"connection {name!r}: the url holds a user or password; give the user as "
            "`username` and the password in the environment variable named by `password_env`"
        )
    if not usable:
        raise ValueError(f"connection {name!r}: the url must be an http or https URL with a host")


def config_path(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    return Path(os.environ.get("CALSYNC_CONFIG") or DEFAULT_PATH)


def load(path: Path | None = None) -> Settings:
    """Read and validate the configuration file (`path`, else CALSYNC_CONFIG, else
    ./calsync.toml). No file is an error that says where calsync looked: running on
    defaults would quietly make a database in whatever folder the command ran in."""
    named_by = "--config" if path is not None else None
    if path is None and os.environ.get("CALSYNC_CONFIG"):
        named_by = "CALSYNC_CONFIG"
    path = config_path(path)
    if not path.is_file():
        raise ConfigNotFound(_not_found(path, named_by), path, default=named_by is None)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse(data, source=str(path))


def _not_found(path: Path, named_by: str | None) -> str:
    if named_by is None:
        return (
            f"no configuration found: calsync looked for {path.absolute()} "
            "(no --config given, CALSYNC_CONFIG not set)"
        )
    return f"no configuration found: {path.absolute()} (named by {named_by}) does not exist"


def parse(data: dict[str, Any], source: str = "configuration") -> Settings:
    url = os.environ.get("CALSYNC_DATABASE_URL")
    if url:
        data = {**data, "database": {**data.get("database", {}), "url": url}}
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}:\n{_explain(exc)}") from None


def _explain(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)
