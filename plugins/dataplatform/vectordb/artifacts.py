"""The ML artifacts bucket: which model version to load, and its validated embeddings (plain Python).

Layouts accepted (documented in the README):

    models/<version>/item_embeddings.csv       the versioned layout; manifest.json is written last,
    models/<version>/user_embeddings.csv       so its presence means the version is complete
    models/<version>/user_feature_model.json|.npz
    models/<version>/manifest.json

    embeddings/item_embeddings.csv             the flat layout the data scientist uses today; its version
    embeddings/user_embeddings.csv             is derived from the item file's timestamp and ETag, so
                                               loading the same files twice is a no-op
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

from dataplatform.handoffs import (
    FLAT_PREFIX,
    ITEMS_FILE,
    MODEL_MANIFEST_FILE,
    MODELS_PREFIX,
    USERS_FILE,
    ArtifactSet,
    ModelManifest,
)
from dataplatform.paths import sql_path
from dataplatform.s3 import list_objects
from dataplatform.vectordb.embeddings_file import EmbeddingsTable, check_pair, read_embeddings

MODELS, FLAT = MODELS_PREFIX, FLAT_PREFIX
ITEMS, USERS, MANIFEST = ITEMS_FILE, USERS_FILE, MODEL_MANIFEST_FILE


class ArtifactsNotFoundError(LookupError):
    pass


def _flat_version(obj: dict) -> str:
    return f"flat-{obj['LastModified']:%Y%m%dT%H%M%SZ}-{obj['ETag'].strip(chr(34))[:8]}"


def resolve(s3: Any, bucket: str, requested: str | None = None) -> ArtifactSet:
    """The requested version, or else the newest complete one of either layout."""
    if requested:
        if requested.startswith("flat-"):
            flat = resolve(s3, bucket)
            if flat.version != requested:
                raise ArtifactsNotFoundError(f"{requested}: the flat layout now holds {flat.version}")
            return flat
        return ArtifactSet(version=requested, bucket=bucket, prefix=f"{MODELS}{requested}/")
    candidates = [(o["LastModified"], o["Key"].split("/")[1], f"{MODELS}{o['Key'].split('/')[1]}/")
                  for o in list_objects(s3, bucket, MODELS) if o["Key"].endswith("/" + MANIFEST)]
    flat_items = [o for o in list_objects(s3, bucket, FLAT + ITEMS) if o["Key"] == FLAT + ITEMS]
    if flat_items and next(list_objects(s3, bucket, FLAT + USERS), None):
        candidates.append((flat_items[0]["LastModified"], _flat_version(flat_items[0]), FLAT))
    if not candidates:
        raise ArtifactsNotFoundError(f"no model artifacts in s3://{bucket}/{MODELS} or s3://{bucket}/{FLAT}")
    _, version, prefix = max(candidates)
    return ArtifactSet(version=version, bucket=bucket, prefix=prefix)


def with_manifest(s3: Any, artifacts: ArtifactSet) -> ArtifactSet:
    """The set with its validated `manifest.json` (versioned layout; the flat layout has none). A manifest with
    a missing or mistyped field raises `HandoffError` naming it; one for another version raises ValueError."""
    if not artifacts.versioned:
        return artifacts
    body = s3.get_object(Bucket=artifacts.bucket, Key=artifacts.key(MANIFEST))["Body"].read()
    manifest = ModelManifest.from_payload(body, source=artifacts.uri(MANIFEST))
    if manifest.version != artifacts.version:
        raise ValueError(f"{artifacts.uri(MANIFEST)} describes version {manifest.version!r}, "
                         f"not {artifacts.version!r}")
    return artifacts.model_copy(update={"manifest": manifest})


@dataclass(frozen=True)
class ValidatedEmbeddings:
    items: EmbeddingsTable
    users: EmbeddingsTable
    sha256: dict[str, str]


def read_validated(s3: Any, artifacts: ArtifactSet, *, known_products: set[str], known_customers: set[int],
                   min_product_coverage: float) -> ValidatedEmbeddings:
    """Download and check both files: format, dimension, ids against the source, coverage, and the
    checksums in the manifest when there is one. Raises EmbeddingsFileError / ValueError naming the problem."""
    tables, digests = {}, {}
    for name, kind in ((ITEMS, "item"), (USERS, "user")):
        content = s3.get_object(Bucket=artifacts.bucket, Key=artifacts.key(name))["Body"].read()
        digests[name] = hashlib.sha256(content).hexdigest()
        expected = artifacts.manifest.sha256_of(name) if artifacts.manifest else None
        if expected and expected != digests[name]:
            raise ValueError(f"{artifacts.uri(name)}: sha256 {digests[name]} differs from the manifest's {expected}")
        tables[kind] = read_embeddings(io.TextIOWrapper(io.BytesIO(content), "utf-8-sig", newline=""),
                                       kind=kind, source=artifacts.uri(name))
    check_pair(tables["item"], tables["user"], known_products=known_products, known_customers=known_customers,
               min_product_coverage=min_product_coverage)
    return ValidatedEmbeddings(tables["item"], tables["user"], digests)


def known_ids(source_conn: Any) -> tuple[set[str], set[int]]:
    """The source's product codes and customer numbers."""
    cur = source_conn.cursor()
    cur.execute(sql_path("select_product_codes.sql").read_text())
    products = {str(r[0]) for r in cur.fetchall()}
    cur.execute(sql_path("select_customer_numbers.sql").read_text())
    return products, {int(r[0]) for r in cur.fetchall()}
