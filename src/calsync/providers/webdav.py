"""What the CalDAV adapter puts on the wire: WebDAV/CalDAV XML and readable exchanges.

Request bodies: `sync_collection` (RFC 6578 §3.2), `calendar_multiget` (RFC 4791 §7.9),
`propfind_etags` (RFC 4918 §9.1) and `mkcalendar` (RFC 4791 §5.3.1). Responses:
`parse_multistatus` (RFC 4918 §13, with the RFC 6578 `DAV:sync-token`) and `preconditions`
(the `DAV:error` body of a failed precondition, RFC 4918 §16). Exchanges: `describe_request`
and `describe_response` give the readable, truncated text kept on events.

Parsing never resolves entities or fetches anything from the network, and refuses an
answer with a DOCTYPE; whatever the bytes, it returns or raises ProviderUnavailable. calendar-data
arrives as XML text, whose line ends the XML parser turns into LF (XML 1.0 §2.11); they are
turned back into the CRLF that iCalendar requires (RFC 5545 §3.1).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

import httpx
from lxml import etree

from calsync.errors import ProviderUnavailable

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
_NSMAP = {"d": DAV, "c": CALDAV}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
_STATUS_LINE = re.compile(r"^\s*HTTP/\S+\s+(\d{3})\b", re.IGNORECASE | re.ASCII)
_TEXT_LIMIT = 4096
#: Takes secrets out of a text recorded on an event (`wire.Wire.redact`).
Redact = Callable[[str], str]
_HREF, _STATUS, _PROPSTAT, _PROP = (f"{{{DAV}}}{n}" for n in ("href", "status", "propstat", "prop"))
_GETETAG, _RESOURCETYPE, _COLLECTION = (
    f"{{{DAV}}}{n}" for n in ("getetag", "resourcetype", "collection")
)
_CALENDAR_DATA = f"{{{CALDAV}}}calendar-data"
# Shown in exchanges; Authorization never is.
_SHOWN_HEADERS = ("Depth", "If-Match", "If-None-Match", "Content-Type", "ETag", "Retry-After")


@dataclass(frozen=True)
class Member:
    """One `DAV:response` of a multistatus: a member href and what the server said about it."""

    href: str
    status: int
    etag: str | None = None
    calendar_data: bytes | None = None
    is_collection: bool = False


@dataclass(frozen=True)
class Multistatus:
    members: tuple[Member, ...]
    sync_token: str | None


def sync_collection(sync_token: str | None) -> bytes:
    """RFC 6578 sync-collection asking for etags; an empty token asks for every member."""
    root = etree.Element(_d("sync-collection"), nsmap={"d": DAV})
    etree.SubElement(root, _d("sync-token")).text = sync_token or ""
    etree.SubElement(root, _d("sync-level")).text = "1"
    etree.SubElement(etree.SubElement(root, _d("prop")), _d("getetag"))
    return _serialize(root)


def calendar_multiget(hrefs: Iterable[str]) -> bytes:
    """RFC 4791 calendar-multiget asking for the etag and calendar-data of `hrefs`."""
    root = etree.Element(_c("calendar-multiget"), nsmap=_NSMAP)
    prop = etree.SubElement(root, _d("prop"))
    etree.SubElement(prop, _d("getetag"))
    etree.SubElement(prop, _c("calendar-data"))
    for href in hrefs:
        etree.SubElement(root, _d("href")).text = href
    return _serialize(root)


def propfind_etags() -> bytes:
    """PROPFIND for the etag and resource type of a resource (or of a collection's members)."""
    root = etree.Element(_d("propfind"), nsmap={"d": DAV})
    prop = etree.SubElement(root, _d("prop"))
    etree.SubElement(prop, _d("getetag"))
    etree.SubElement(prop, _d("resourcetype"))
    return _serialize(root)


def propfind_calendar_check() -> bytes:
    """PROPFIND body asking a collection what it is and whether it does sync-collection."""
    root = etree.Element(_d("propfind"), nsmap={"D": DAV, "C": CALDAV})
    prop = etree.SubElement(root, _d("prop"))
    for name in ("resourcetype", "displayname", "sync-token", "supported-report-set"):
        etree.SubElement(prop, _d(name))
    return _serialize(root)


def calendar_check(content: bytes) -> tuple[bool, bool, str]:
    """(is a calendar, does sync-collection, display name) from that PROPFIND's answer."""
    root = _parse(content)
    calendar = root.find(f".//{_d('resourcetype')}/{_c('calendar')}") is not None
    token = (root.findtext(f".//{_d('sync-token')}") or "").strip()
    report = root.find(f".//{_d('supported-report-set')}//{_d('sync-collection')}") is not None
    return calendar, bool(token) or report, (root.findtext(f".//{_d('displayname')}") or "")


def mkcalendar(display_name: str) -> bytes:
    """MKCALENDAR body setting the display name (RFC 4791 §5.3.1.2)."""
    root = etree.Element(_c("mkcalendar"), nsmap=_NSMAP)
    prop = etree.SubElement(etree.SubElement(root, _d("set")), _d("prop"))
    etree.SubElement(prop, _d("displayname")).text = display_name
    return _serialize(root)


def parse_multistatus(content: bytes) -> Multistatus:
    """The members and sync-token of a 207 Multi-Status body."""
    root = _parse(content)
    if root.tag != _d("multistatus"):
        raise ProviderUnavailable(f"expected DAV:multistatus, got {root.tag}")
    members = tuple(
        member for response in root.iterfind("d:response", _NSMAP) for member in _members(response)
    )
    return Multistatus(members, root.findtext("d:sync-token", namespaces=_NSMAP))


def preconditions(content: bytes) -> frozenset[str]:
    """Local names of the conditions in a `DAV:error` body ("valid-sync-token", ...).

    A body that is not XML is searched for the names, as some servers answer in HTML.
    """
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError:
        text = content.decode("utf-8", "replace")
        known = ("valid-sync-token", "supported-report", "resource-must-be-null")
        return frozenset(name for name in known if name in text)
    return frozenset(etree.QName(child).localname for child in root if isinstance(child.tag, str))


def same_path(href: str, url: str) -> bool:
    """Whether `href` (as a server reports it) names the resource at `url`."""
    if href.startswith("/") and not href.startswith("//") and "?" not in href:
        # An absolute path, as servers mostly answer: no need to resolve it against `url`.
        return unquote(href).rstrip("/") == _path_key(url)
    try:
        return _path_key(urljoin(url, href)) == _path_key(url)
    except ValueError:  # not a URL at all (an unclosed IPv6 bracket, a bad port)
        return False


def _unchanged(text: str) -> str:
    return text


def describe_request(request: httpx.Request, redact: Redact = _unchanged) -> str:
    """Method, URL, the headers that matter and the start of the body; never credentials.
    `redact` takes secrets out of the whole text before the body is cut."""
    lines = [f"{request.method} {request.url}"]
    lines += [
        f"{name}: {request.headers[name]}" for name in _SHOWN_HEADERS if name in request.headers
    ]
    return _with_body(lines, request.content, redact)


def describe_response(response: httpx.Response, redact: Redact = _unchanged) -> str:
    """Status, the headers that matter and the start of the body, `redact`ed whole
    before the body is cut (a secret across the cut would otherwise survive in part)."""
    lines = [f"{response.status_code} {response.reason_phrase}"]
    lines += [
        f"{name}: {response.headers[name]}" for name in _SHOWN_HEADERS if name in response.headers
    ]
    return _with_body(lines, response.content, redact)


def _with_body(lines: list[str], body: bytes, redact: Redact) -> str:
    text = redact("\n".join(lines))
    if body:
        text += "\n\n" + truncate(redact(body.decode("utf-8", "replace")), _TEXT_LIMIT)
    return text


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit} more characters]"


def _members(response: etree._Element) -> list[Member]:
    # Children are walked directly rather than searched by path: a listing of a large
    # calendar holds tens of thousands of responses.
    hrefs: list[str] = []
    status_text: str | None = None
    propstats: list[etree._Element] = []
    for child in response:
        if child.tag == _HREF:
            hrefs.append((child.text or "").strip())
        elif child.tag == _STATUS:
            status_text = child.text or ""
        elif child.tag == _PROPSTAT:
            propstats.append(child)
    if status_text is not None:
        return [Member(href, _status(status_text)) for href in hrefs]
    if hrefs and not propstats:
        # Not "gone": a server that says nothing of a member has not said it was deleted.
        raise ProviderUnavailable(f"a DAV:response for {hrefs[0][:200]!r} has no status")
    etag = data = None
    is_collection = found = False
    for propstat in propstats:
        prop = propstat.find(_PROP)
        if _status(propstat.findtext(_STATUS, "")) != 200:
            continue
        found = True
        if prop is None:
            continue
        for value in prop:
            if value.tag == _GETETAG:
                etag = value.text or etag
            elif value.tag == _CALENDAR_DATA and value.text is not None:
                data = _crlf(value.text)
            elif value.tag == _RESOURCETYPE:
                is_collection = is_collection or value.find(_COLLECTION) is not None
    if not found:
        return [Member(href, 404) for href in hrefs[:1]]
    return [Member(href, 200, etag, data, is_collection) for href in hrefs[:1]]


def _status(status_line: str) -> int:
    match = _STATUS_LINE.match(status_line)
    if match is None:
        raise ProviderUnavailable(f"unreadable DAV:status {status_line!r}")
    return int(match.group(1))


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


@functools.lru_cache(maxsize=64)
def _path_key(url: str) -> str:
    return unquote(urlsplit(url).path).rstrip("/")


def _parse(content: bytes) -> etree._Element:
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ProviderUnavailable(f"unreadable XML in the server's answer: {exc}") from exc
    if getattr(root.getroottree().docinfo, "doctype", ""):
        # No WebDAV answer needs a DTD; one is how entity tricks arrive.
        raise ProviderUnavailable("the server's answer declares a DOCTYPE; it is not read")
    return root


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _d(name: str) -> str:
    return f"{{{DAV}}}{name}"


def _c(name: str) -> str:
    return f"{{{CALDAV}}}{name}"
