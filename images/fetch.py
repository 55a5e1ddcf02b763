"""Turn an image reference into bytes: `local:` keys, `s3://` URIs, http(s) URLs, base64.

http(s) sources are an SSRF risk, so a URL is allowed only if its host is allow-listed or every
address it resolves to is public (unless private addresses are allowed by configuration); the
connection then goes to the address that was checked, each redirect is checked again, and size
and time are capped.
"""

import base64
import binascii
import ipaddress
import re
import socket
import threading
import time
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

import urllib3
import urllib3.connection
from botocore.exceptions import BotoCoreError

from core.settings import Settings
from images.storage import LOCAL_PREFIX, StorageError, local_path, s3_client, s3_reads

MAX_REDIRECTS = 3


class FetchError(Exception):
    """`transient` errors (a store briefly down) are worth a retry; the others never will be."""

    def __init__(self, code: str, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.transient = transient


def fetch(ref: str, settings: Settings) -> bytes:
    if ref.startswith(LOCAL_PREFIX):
        return _fetch_local(ref, settings)
    if ref.startswith("s3://"):
        return _fetch_s3(ref, settings)
    if ref.startswith(("http://", "https://")):
        return fetch_url(ref, settings)
    if "://" in ref:
        raise FetchError("unsupported_source", f"unsupported scheme in {ref[:40]!r}: use s3:// or http(s)://")
    return decode_base64(ref, settings.max_upload_bytes)


def decode_base64(ref: str, max_bytes: int) -> bytes:
    payload = ref.split(",", 1)[1] if ref.startswith("data:") else ref
    if len(payload) > (max_bytes // 3 + 1) * 4:
        raise FetchError("too_large", f"base64 image larger than {max_bytes} bytes")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise FetchError("bad_reference", "not a URL, an s3:// URI or base64 image bytes") from None


def _fetch_local(ref: str, settings: Settings) -> bytes:
    try:
        return local_path(ref, settings).read_bytes()
    except StorageError as exc:
        raise FetchError("bad_reference", str(exc)) from None
    except FileNotFoundError:
        raise FetchError("not_found", f"{ref} is not in the local store") from None


def check_s3(ref: str, settings: Settings) -> tuple[str, str]:
    """(bucket, key) of an s3:// URI under an allowed bucket or prefix: the store's own
    `s3_bucket/s3_prefix` or an entry of `s3_allowed_sources`. The workers' credentials can read
    more than uploaders should, so nothing else is read."""
    bucket, _, key = ref.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise FetchError("bad_reference", f"not an s3://bucket/key URI: {ref[:100]!r}")
    if {".", ".."} & set(key.split("/")):  # an HTTP client would resolve them after the URL is signed
        raise FetchError("bad_reference", f"an s3:// key with . or .. segments: {ref[:100]!r}")
    store = [f"{settings.s3_bucket}/{settings.s3_prefix}"] if settings.s3_bucket else []
    for entry in [*settings.s3_allowed_sources, *store]:
        allowed_bucket, _, prefix = entry.partition("/")
        if bucket == allowed_bucket and key.startswith(prefix):
            return bucket, key
    raise FetchError("forbidden_source", f"s3://{bucket[:63]}/… is not an allowed bucket or prefix")


def _fetch_s3(ref: str, settings: Settings) -> bytes:
    """One ranged GET (a HEAD first could race a replaced object): at most one byte over the
    limit is read. Missing and unreadable objects get the same answer, and sizes are not told.
    boto3 signs the request (a presigned URL: its credentials, region and addressing); the GET
    itself goes through `s3_reads`' kept-alive connections, at about half the CPU of `get_object`.
    Three attempts in all while the answer is worth a retry (a connection refused, 5xx, SlowDown)."""
    bucket, key = check_s3(ref, settings)
    try:
        url = s3_client(settings.s3_endpoint_url, settings.aws_region).generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=900
        )
    except BotoCoreError as exc:  # no credentials, a malformed endpoint
        raise FetchError("fetch_failed", f"{ref[:200]}: cannot sign the request ({exc})", transient=True) from None
    for attempt in range(S3_ATTEMPTS - 1):
        try:
            return _get_s3(url, ref[:200], settings.max_upload_bytes)
        except FetchError as exc:
            if not exc.transient:
                raise
        time.sleep(0.1 * 2**attempt)
    return _get_s3(url, ref[:200], settings.max_upload_bytes)  # the last attempt's error is the answer


S3_ATTEMPTS = 3
NOT_READABLE = {"NoSuchKey", "NoSuchBucket", "AccessDenied", "403", "404"}
"""S3's answers for an object that is not there or that these credentials may not read. The
others (a signature refused, a clock skewed, the store busy) are worth a retry."""
WRONG_REGION = {"PermanentRedirect", "AuthorizationHeaderMalformed", "301"}
"""A bucket in another region than STYLECAT_AWS_REGION: asking again will not help."""
_S3_ERROR = re.compile(rb"<Code>([A-Za-z0-9.]{1,64})</Code>(?:.*?<Message>([^<]{0,200})</Message>)?", re.DOTALL)


def _get_s3(url: str, ref: str, limit: int) -> bytes:
    """One attempt. urllib3 neither retries (its warnings would log the signed URL) nor decodes a
    stored `Content-Encoding`. A connection goes back to the pool only once its answer is read to the
    end; any other answer closes it."""
    unavailable = f"{ref}: the store did not answer"
    try:
        response = s3_reads().request(
            "GET", url, headers={"Range": f"bytes=0-{limit}"}, preload_content=False, decode_content=False
        )
    except urllib3.exceptions.HTTPError as exc:  # its message would carry the URL and its signature
        raise FetchError("fetch_failed", f"{unavailable} ({type(exc).__name__})", transient=True) from None
    try:
        if response.status >= 300:
            code, message = _s3_error(response)
            if code == "InvalidRange":  # an empty object has no byte 0
                return b""
            if code in WRONG_REGION:
                raise FetchError("fetch_failed", f"{ref}: the bucket is not in STYLECAT_AWS_REGION ({code})")
            if code in NOT_READABLE and "expired" not in message.lower():  # an expired URL: a skewed clock
                raise FetchError("not_found", f"{ref}: no such object, or not readable")
            raise FetchError("fetch_failed", f"{ref}: the store answered {code}", transient=True)
        data = response.read(limit + 1)
        if len(data) > limit:
            raise FetchError("too_large", f"{ref} is larger than {limit} bytes")
        response.release_conn()  # read to its end: the connection serves the next image
        return data
    except urllib3.exceptions.HTTPError as exc:
        raise FetchError("fetch_failed", f"{unavailable} ({type(exc).__name__})", transient=True) from None
    finally:
        response.close()  # after `release_conn` it no longer holds the connection


def _s3_error(response: urllib3.BaseHTTPResponse) -> tuple[str, str]:
    """The `<Code>` and `<Message>` of an S3 error answer (its first 4 KiB), or its HTTP status."""
    found = _S3_ERROR.search(response.read(4096))
    if not found:
        return str(response.status), ""
    return found.group(1).decode(), (found.group(2) or b"").decode(errors="replace")


TRANSLATED = [
    ipaddress.ip_network(network)
    for network in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "::/96", "::ffff:0:0:0/96")
]
"""IPv6 ranges that carry an IPv4 address (NAT64, 6to4, IPv4-compatible, IPv4-translated): on a
NAT64 network they reach private IPv4 hosts, yet Python 3.11's `is_global` accepts some of them."""


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return _public(address.ipv4_mapped)
        if any(address in network for network in TRANSLATED):
            return False
    return address.is_global


def redacted(url: str) -> str:
    """A URL as error messages (stored, and shown by the public API) carry it: without user and
    password, without the query (where a presigned URL keeps its signature), at most 120 characters."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(malformed URL)"
    host = parts.netloc.rpartition("@")[2]
    return (f"{parts.scheme}://{host}{parts.path}" + ("?…" if parts.query else ""))[:120]


def _split(url: str) -> SplitResult:
    """urlsplit, refusing what it cannot parse (a port out of range, a broken IPv6 literal)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # parsing the port is what raises
    except ValueError:
        raise FetchError("forbidden_url", f"not a valid URL: {redacted(url)}") from None
    return parts


def check_url(url: str, settings: Settings) -> str:
    """Validate scheme and host; return the address to connect to. Raise FetchError(forbidden_url)."""
    parts = _split(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("forbidden_url", f"only http(s) URLs with a host are allowed: {redacted(url)}")
    host = parts.hostname
    if settings.url_allowed_hosts and host not in settings.url_allowed_hosts:
        raise FetchError("forbidden_url", f"host {host!r} is not in STYLECAT_URL_ALLOWED_HOSTS")
    try:
        infos = socket.getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except socket.gaierror:
        raise FetchError("fetch_failed", f"cannot resolve {host!r}", transient=True) from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not settings.allow_private_urls and not all(_public(address) for address in addresses):
        raise FetchError("forbidden_url", f"{host!r} resolves to a non-public address")
    return str(addresses[0])


class Watchdog:
    """One deadline for a whole fetch: when it passes, the sockets it watches are shut down, so a
    server that drips its headers or body a byte at a time (each byte inside the read timeout)
    cannot hold the fetch."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed

    def cancel(self) -> None:
        self._timer.cancel()


class _Watched:
    """Mixed into urllib3's connection classes: the socket joins the fetch's watchdog once connected."""

    sock: socket.socket
    watchdog: Watchdog

    def __init__(self, *args: Any, watchdog: Watchdog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.watchdog = watchdog

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self.watchdog.watch(self.sock)


class _WatchedHTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


def fetch_url(url: str, settings: Settings) -> bytes:
    deadline = time.monotonic() + settings.fetch_timeout
    watchdog = Watchdog(settings.fetch_timeout)
    too_long = FetchError("fetch_failed", f"{redacted(url)} took too long", transient=True)
    try:
        data = _fetch_url(url, settings, deadline, watchdog)
    except FetchError:
        if watchdog.expired:  # the shut-down socket surfaced as some other error
            raise too_long from None
        raise
    finally:
        watchdog.cancel()
    if watchdog.expired:  # a shut-down socket reads as the end of the body
        raise too_long
    return data


def _fetch_url(url: str, settings: Settings, deadline: float, watchdog: Watchdog) -> bytes:
    for _ in range(MAX_REDIRECTS + 1):
        address = check_url(url, settings)
        parts = urlsplit(url)
        remaining = max(deadline - time.monotonic(), 0.01)
        timeout = urllib3.Timeout(connect=min(3.0, remaining), read=remaining)
        pool: urllib3.HTTPConnectionPool
        if parts.scheme == "https":  # connect to the checked address, verify the certificate for the name
            pool = urllib3.HTTPSConnectionPool(
                address,
                parts.port,
                timeout=timeout,
                retries=False,
                server_hostname=parts.hostname,
                assert_hostname=parts.hostname,
                watchdog=watchdog,
            )
            pool.ConnectionCls = _WatchedHTTPSConnection
        else:
            pool = urllib3.HTTPConnectionPool(address, parts.port, timeout=timeout, retries=False, watchdog=watchdog)
            pool.ConnectionCls = _WatchedHTTPConnection
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        response = None
        try:
            response = pool.urlopen(
                "GET",
                target,
                headers={"Host": parts.netloc, "Accept": "image/*"},
                redirect=False,
                preload_content=False,
            )
            if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                url = urljoin(url, response.headers["Location"])
                continue
            if response.status == 404:
                raise FetchError("not_found", f"{redacted(url)} answered 404")
            if response.status >= 400:
                raise FetchError(
                    "fetch_failed",
                    f"{redacted(url)} answered {response.status}",
                    transient=response.status >= 500 or response.status == 429,
                )
            return _read_capped(response, settings.max_upload_bytes, url)
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError("fetch_failed", f"{redacted(url)}: {exc}", transient=True) from None
        finally:
            if response is not None:
                response.close()
            pool.close()
    raise FetchError("forbidden_url", f"more than {MAX_REDIRECTS} redirects")


def _read_capped(response: urllib3.BaseHTTPResponse, max_bytes: int, url: str) -> bytes:
    """Read what arrives (`read1`), stopping as soon as the body is over `max_bytes`."""
    chunks, size = [], 0
    while chunk := response.read1(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError("too_large", f"{redacted(url)} is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
