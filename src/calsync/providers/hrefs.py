"""Which URLs a CalDAV connection may use, and the one form of a provider id.

A server names calendar objects by hrefs: absolute paths or full URLs, with whatever
percent-escaping it likes. calsync trusts a server only with what is its own:

- `Origin.check(url)`: a request goes only to the connection's origin (scheme, host and
  port of its base URL, RFC 6454), so the connection's credentials never leave it.
- `Origin.member_id(href, collection)`: an href from a listing is resolved against the
  calendar's URL (RFC 3986 §5.2) and must stay at the origin, inside that calendar; then
  its provider id is `canonical_id` of it, at most `MAX_ID_LENGTH` characters. An href
  that does not raises `ForeignHref`, and the adapter reports it as one refused change
  instead of fetching or writing it.

A provider id is the object's absolute path, each segment decoded and encoded again with
only RFC 3986 unreserved characters left as they are (what `urllib.parse.quote` gives, and
what Radicale lists), so that `/r/a%40b.ics`, `/r/a@b.ics` and `https://host/r/a%40b.ics`
are one id, whether a listing or a write produced it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import quote, unquote, urljoin, urlsplit

from calsync.errors import ProviderRejected

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SHOWN = 200
#: The longest provider id the store keeps (its provider_id columns).
MAX_ID_LENGTH = 1000


class ForeignHref(ValueError):
    """An href names something outside what the connection may touch; the message says why."""


@dataclass(frozen=True)
class Origin:
    """The scheme, host and port every request of one connection goes to."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"not an http(s) URL with a host: {shown(url)}")
        return cls(scheme, parts.hostname.lower(), parts.port or _DEFAULT_PORTS[scheme])

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def holds(self, url: str) -> bool:
        try:
            return Origin.of(url) == self
        except ValueError:
            return False

    def check(self, url: str) -> None:
        """Refuse, before anything is sent, a request to another origin."""
        if not self.holds(url):
            raise ProviderRejected(
                f"refused to send a request to {shown(url)}: outside the connection's origin {self}"
            )

    def member_id(self, href: str, collection: str) -> str:
        """The provider id of `href`, listed by the calendar at URL `collection`."""
        try:
            url = urljoin(collection, href.strip())
        except ValueError:
            raise ForeignHref(f"refused href {shown(href)}: not a URL") from None
        if not self.holds(url):
            downgrade = self.scheme == "https" and url.lower().startswith("http:")
            why = "an http href under an https connection" if downgrade else "another origin"
            raise ForeignHref(f"refused href {shown(href)}: {why} (the connection is {self})")
        if _dot_segments(url):
            # Escaped dots (%2e%2e) are no path segments to urljoin, yet a server may
            # resolve them: an href climbing out of the calendar, however spelled.
            raise ForeignHref(f"refused href {shown(href)}: its path climbs with . or ..")
        found, inside = canonical_id(url), canonical_id(collection).rstrip("/") + "/"
        if not found.startswith(inside) or found == inside:
            raise ForeignHref(f"refused href {shown(href)}: not a member of {inside}")
        if len(found) > MAX_ID_LENGTH:
            raise ForeignHref(f"refused href {shown(href)}: over {MAX_ID_LENGTH} characters")
        return found


def _dot_segments(url: str) -> bool:
    return any(unquote(segment) in (".", "..") for segment in urlsplit(url).path.split("/"))


@functools.lru_cache(maxsize=4096)
def canonical_id(url: str) -> str:
    """The provider id of the object at `url` (a full URL or an absolute path)."""
    path = urlsplit(url).path or "/"
    return "/".join(quote(unquote(segment), safe="") for segment in path.split("/"))


def shown(text: str) -> str:
    """`text` as an error message may quote it: short, and without any user:password@."""
    try:
        parts = urlsplit(text)
        if parts.username is not None or parts.password is not None:
            text = parts._replace(netloc=parts.hostname or "").geturl()
    except ValueError:
        pass
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")
