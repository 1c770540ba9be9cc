"""Which suite judges a deployment, and where it came from: the catalog in S3, a URI, a bundled file, or inline.

One resolver for both controllers; the CodeDeploy and ECS hooks differ only in the catalog key and the fallbacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tollgate_core.contracts import SuiteSource, SuiteSourceKind
from tollgate_core.ports import SetupFailed, SuiteStore
from tollgate_core.suite import Suite, SuiteError, load_suite, suite_from_bytes
from tollgate_core.suite_catalog import SUITE_EXTENSIONS, CatalogEntry

S3_SCHEME = "s3://"


@dataclass(frozen=True)
class ResolvedSuite:
    suite: Suite
    source: SuiteSource


class SuiteNotFound(SetupFailed):
    """No suite where the hook looked; the message names every place."""


def catalog_suite(store: SuiteStore, bucket: str, entry: CatalogEntry, budget_seconds: float) -> ResolvedSuite | None:
    """The entry's suite, by the first of its keys that exists; None when none does."""
    for key in entry.keys():  # noqa: SIM118 - a CatalogEntry is no mapping
        found = _read_s3(store, bucket, key, budget_seconds)
        if found is not None:
            return found
    return None


def s3_suite(store: SuiteStore, uri: str, budget_seconds: float, field: str) -> ResolvedSuite:
    """The suite at an s3:// URI that the configuration names: it must exist."""
    bucket, key = parse_s3_uri(uri, field)
    found = _read_s3(store, bucket, key, budget_seconds)
    if found is None:
        raise SuiteNotFound(f"{field}: {uri} does not exist")
    return found


def file_suite(path: str | Path, budget_seconds: float) -> ResolvedSuite:
    return ResolvedSuite(load_suite(path, budget_seconds), {"kind": SuiteSourceKind.FILE, "location": str(path)})


def inline_suite(suite: Suite, field: str) -> ResolvedSuite:
    return ResolvedSuite(suite, {"kind": SuiteSourceKind.INLINE, "location": field})


def catalog_location(bucket: str, entry: CatalogEntry) -> str:
    """How a miss names the place it looked: s3://bucket/stem.yaml (or .json)."""
    first, *others = SUITE_EXTENSIONS
    return f"{S3_SCHEME}{bucket}/{entry.stem}{first}" + "".join(f" (or {extension})" for extension in others)


def parse_s3_uri(uri: str, field: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix(S3_SCHEME).partition("/")
    if not uri.startswith(S3_SCHEME) or not bucket or not key:
        raise SuiteError([f"{field}: {uri!r} is no s3://<bucket>/<key> URI"])
    return bucket, key


def _read_s3(store: SuiteStore, bucket: str, key: str, budget_seconds: float) -> ResolvedSuite | None:
    stored = store.read(bucket, key)
    if stored is None:
        return None
    location = f"{S3_SCHEME}{bucket}/{key}"
    source: SuiteSource = {"kind": SuiteSourceKind.S3, "location": location}
    if stored.version_id:
        source["versionId"] = stored.version_id
    if stored.etag:
        source["etag"] = stored.etag.strip('"')
    return ResolvedSuite(suite_from_bytes(stored.content, location, budget_seconds), source)
