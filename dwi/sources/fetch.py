"""Fetch URL sources into immutable snapshots under raw/snapshots/<source_id>/.

Each distinct download is kept as `<UTC timestamp>-<sha256[:12]><ext>` (read-only) with a sidecar
`.json` (url, sha256, bytes, retrieved, etag, last_modified, content_type). A request is conditional on
the latest snapshot's ETag / Last-Modified; 304 or identical content adds nothing. Timeouts, connection
errors, 5xx and truncated bodies are retried with exponential backoff; if every attempt fails, the latest
snapshot (if any) is used and the failure is reported. A download is written to a temporary file and
renamed into place only when complete, so a failed fetch never leaves a partial snapshot.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx

from dwi.config import settings
from dwi.errors import DwiError
from dwi.sources.manifest import MANIFEST, Source, resolve_inside

SNAPSHOTS = "snapshots"
RETRY_STATUS = {408, 429, 500, 502, 503, 504}


@dataclass
class Fetched:
    source_id: str
    status: str  # downloaded | unchanged | not_modified | failed
    snapshot: Path | None  # the snapshot to load (the latest one)
    message: str = ""


def snapshot_dir(raw: Path, source_id: str) -> Path:
    """raw/snapshots/<source id made safe>: letters, digits, '_', '-' and inner dots only, so that no id
    (e.g. '..', '../x', '/etc') can name a folder outside raw/snapshots."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", source_id).lstrip(".") or "_"
    return raw / SNAPSHOTS / safe


def confined_dir(raw: Path, source: Source) -> Path:
    """The source's snapshot folder, refused (naming the manifest entry) when it or raw/snapshots is a link
    that leads out of raw/: a download is never written, nor a snapshot read, outside the source folder."""
    directory = snapshot_dir(raw, source.id)
    resolve_inside(raw, str(directory.relative_to(raw)), _entry(raw, source))
    return directory


def _entry(raw: Path, source: Source) -> str:
    return f"{raw / MANIFEST}, source '{source.id}', snapshot"


def latest(directory: Path, raw: Path, source: Source) -> tuple[Path, dict] | None:
    """The newest complete snapshot (data file + sidecar) in a source's snapshot folder. Both files are
    confined to raw/ like every path the manifest names (no symlink or hard link leading out of it), else
    refused naming the manifest entry."""
    for meta_file in sorted(directory.glob("*.json"), reverse=True):
        data = meta_file.with_suffix("")
        if data.is_file() or data.is_symlink():
            for file in (data, meta_file):
                resolve_inside(raw, str(file.relative_to(raw)), _entry(raw, source))
            try:
                return data, json.loads(meta_file.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise DwiError(
                    f"{_entry(raw, source)}: {meta_file.name} is not the JSON sidecar dwi writes; move the snapshot "
                    "and its sidecar out of the folder"
                ) from None
    return None


def _extension(url: str) -> str:
    suffixes = Path(urlparse(url).path).suffixes[-2:]
    ext = "".join(s.lower() for s in suffixes)
    return ext if re.fullmatch(r"(\.[a-z0-9]{1,5}){1,2}", ext) else ".dat"


class _Retryable(Exception):
    pass


class TooBig(Exception):
    """A download larger than max_download_bytes (not retried)."""


def _download(client: httpx.Client, url: str, headers: dict, part: Path) -> tuple[int, httpx.Headers, str, int]:
    """One GET into `part`; (status, headers, sha256, bytes). Raises _Retryable for transient failures."""
    digest, size = hashlib.sha256(), 0
    try:
        with client.stream("GET", url, headers=headers) as r:
            if r.status_code == 304:
                return 304, r.headers, "", 0
            if r.status_code in RETRY_STATUS:
                raise _Retryable(f"HTTP {r.status_code} {r.reason_phrase}")
            if r.status_code >= 400:
                return r.status_code, r.headers, "", 0
            limit = settings().max_download_bytes
            with open(part, "wb") as fh:
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise TooBig(
                            f"the download passed {limit:,} bytes (DWI_MAX_DOWNLOAD_BYTES; after decoding "
                            f"{r.headers.get('content-encoding') or 'nothing'}); stopped, nothing kept"
                        )
                    fh.write(chunk)
                    digest.update(chunk)
            expected = r.headers.get("content-length")
            if expected and r.headers.get("content-encoding") in (None, "identity") and int(expected) != size:
                raise _Retryable(f"truncated body: received {size} of {expected} bytes")
            return r.status_code, r.headers, digest.hexdigest(), size
    except httpx.TimeoutException as exc:
        raise _Retryable(f"timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise _Retryable(f"transfer failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


def fetch(source: Source, raw: Path, client: httpx.Client | None = None) -> Fetched:
    """Download a URL source if it changed; never touches existing snapshots."""
    url = source.meta["url"]
    conf = settings()
    timeout, retries, backoff = conf.fetch_timeout, conf.fetch_retries, conf.fetch_backoff
    directory = confined_dir(raw, source)
    directory.mkdir(parents=True, exist_ok=True)
    previous = latest(directory, raw, source)
    if urlparse(url).scheme not in ("http", "https"):
        return Fetched(
            source.id,
            "failed",
            previous[0] if previous else None,
            f"{source.id}: url '{url}' is not http(s); only web sources can be fetched",
        )
    headers = {}
    if previous:
        if previous[1].get("etag"):
            headers["If-None-Match"] = previous[1]["etag"]
        if previous[1].get("last_modified"):
            headers["If-Modified-Since"] = previous[1]["last_modified"]
    part = directory / f".part-{os.getpid()}"
    own = client is None
    client = client or httpx.Client(
        timeout=timeout, follow_redirects=True, headers={"User-Agent": "dwi (decent-work indicators)"}
    )
    keep = (
        f"; kept the previous snapshot {previous[0].name}"
        if previous
        else "; there is no earlier snapshot, so nothing was loaded"
    )
    for stale in directory.glob(".part-*"):  # left by a fetch that was killed
        if not _alive(stale.name.removeprefix(".part-")):
            stale.unlink(missing_ok=True)
    try:
        for attempt in range(retries + 1):
            try:
                status, resp_headers, sha, size = _download(client, url, headers, part)
                break
            except _Retryable as exc:
                part.unlink(missing_ok=True)
                error = str(exc)
                if attempt < retries:
                    time.sleep(backoff * 2**attempt)
        else:
            return Fetched(
                source.id,
                "failed",
                previous[0] if previous else None,
                f"{source.id}: could not fetch {url}: {error} (after {retries + 1} attempts){keep}",
            )
    except (TooBig, OSError) as exc:  # too big, or the disk is full: no partial file stays behind
        part.unlink(missing_ok=True)
        why = str(exc) if isinstance(exc, TooBig) else f"cannot write the download: {exc.strerror}"
        return Fetched(source.id, "failed", previous[0] if previous else None, f"{source.id}: {url}: {why}{keep}")
    finally:
        if own:
            client.close()
    if status == 304 and previous:
        return Fetched(source.id, "not_modified", previous[0], f"{source.id}: not modified since {previous[0].name}")
    if status >= 300:
        part.unlink(missing_ok=True)
        return Fetched(
            source.id,
            "failed",
            previous[0] if previous else None,
            f"{source.id}: could not fetch {url}: HTTP {status}{keep}",
        )
    if previous and previous[1].get("sha256") == sha:
        part.unlink(missing_ok=True)
        return Fetched(source.id, "unchanged", previous[0], f"{source.id}: same content as {previous[0].name}")
    retrieved = dt.datetime.now(dt.UTC)
    target = directory / f"{retrieved:%Y%m%dT%H%M%S%fZ}-{sha[:12]}{_extension(url)}"
    os.replace(part, target)
    target.chmod(0o444)
    meta = {
        "url": url,
        "sha256": sha,
        "bytes": size,
        "retrieved": retrieved.isoformat(),
        "etag": resp_headers.get("etag"),
        "last_modified": resp_headers.get("last-modified"),
        "content_type": resp_headers.get("content-type"),
        "http_status": status,
    }
    sidecar = target.with_name(target.name + ".json")
    tmp = sidecar.with_name(sidecar.name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    os.replace(tmp, sidecar)
    return Fetched(source.id, "downloaded", target, f"{source.id}: new snapshot {target.name} ({size} bytes)")


def resolve(raw: Path, sources: list[Source]) -> tuple[list[Source], list[Fetched]]:
    """Fetch every URL source; each one's path becomes its latest snapshot (or its manifest `path` if no
    snapshot exists yet). A source with neither keeps a path that does not exist (the plan rejects it)."""
    out, results = [], []
    for s in sources:
        if "url" not in s.meta:
            out.append(s)
            continue
        result = fetch(s, raw)
        results.append(result)
        path = result.snapshot or s.path
        if path.is_file():
            rel = Path(raw.name) / path.relative_to(raw.resolve()) if path.is_relative_to(raw.resolve()) else path
            fetched = f"Fetched from {s.meta['url']}; snapshot {path.name} (sidecar .json: checksum, time)."
            notes = f"{s.meta['notes']} {fetched}".strip() if s.meta.get("notes") else fetched
            s = dataclasses.replace(s, path=path, meta={**s.meta, "_relpath": str(rel), "notes": notes})
        out.append(s)
    return out, results
