"""The MLflow registry of `style-cnn`: versions, aliases, the shipped champion, and loading.

Aliases (not the deprecated stages) name what runs: `models:/style-cnn@champion`. An alias is
resolved at load time, so every prediction records the version it resolved to.
"""

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.store.db.db_types import DATABASE_ENGINES

from core.settings import Settings
from model.logged_folder import weights_folder
from model.pyfunc import register

if TYPE_CHECKING:
    from model.predictor import StylePredictor

log = logging.getLogger(__name__)

CHAMPION_DIR = Path(__file__).parent / "champion"
RETIRED_DIR = Path(__file__).parent / "retired"
SHIPPED = (
    ("v1-synthetic", RETIRED_DIR / "v1-synthetic"),
    ("v2-corpus", RETIRED_DIR / "v2-corpus"),
    ("v3-foreground", RETIRED_DIR / "v3-foreground"),
    ("v4-stats-first", RETIRED_DIR / "v4-stats-first"),
    ("v5-experts", RETIRED_DIR / "v5-experts"),
    ("v6-linear-expert", CHAMPION_DIR),
)
"""The shipped weights (the name of each in tag `shipped`, its folder), oldest first: the registry
holds each as a version, so a rollback to an earlier shipped model is `stylecat model promote V`."""
RENAMED = {"champion": "v2-corpus"}
"""Tags of shipped versions registered under an earlier name: version 2 was tagged with the name of
the folder it shipped in, `champion`, until version 3 took that folder."""
SHIPPED_TAG = "shipped"
EXPERIMENT = "style-cnn"
EVALUATION = "evaluation.json"
"""A weights folder's evaluation (synthetic held-out split, leave-source-out), as training exports it."""


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    version: str
    source: str  # the version's artifact URI


def import_store(tracking_uri: str) -> None:
    """Import the modules of the store behind `tracking_uri` without connecting to it. MLflow imports
    its SQL stores (SQLAlchemy models, Alembic) on first use: about a second in every process."""
    if tracking_uri.split(":", 1)[0].split("+", 1)[0] in DATABASE_ENGINES:
        import mlflow.store.model_registry.sqlalchemy_store  # noqa: F401
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401


def configure(settings: Settings) -> MlflowClient:
    """Point MLflow at the configured tracking/registry store and the experiment's artifact folder."""
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    if settings.mlflow_tracking_uri.startswith("sqlite:///"):  # the store's folder, wherever it is
        Path(settings.mlflow_tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    client = MlflowClient()
    if client.get_experiment_by_name(EXPERIMENT) is None:
        location = None
        if settings.mlflow_tracking_uri.startswith("sqlite:"):
            location = (settings.stack_dir / "mlflow" / "artifacts").as_uri()
        try:
            client.create_experiment(EXPERIMENT, artifact_location=location)
        except MlflowException:  # created concurrently by another process
            pass
    mlflow.set_experiment(EXPERIMENT)
    return client


def resolve(client: MlflowClient, uri: str) -> ResolvedModel:
    """`models:/name@alias`, `models:/name/version` or `models:/name/latest` to a concrete version."""
    if not uri.startswith("models:/"):
        raise ValueError(f"not a registry URI: {uri!r} (expected models:/name@alias or models:/name/version)")
    path = uri.removeprefix("models:/")
    if "@" in path:
        name, alias = path.split("@", 1)
        version: ModelVersion = client.get_model_version_by_alias(name, alias)
    else:
        name, _, number = path.partition("/")
        if number in ("", "latest"):
            versions = client.search_model_versions(f"name = '{name}'", order_by=["version_number DESC"], max_results=1)
            if not versions:
                raise MlflowException(f"registered model {name!r} has no versions")
            version = versions[0]
        else:
            version = client.get_model_version(name, number)
    return ResolvedModel(name=version.name, version=str(version.version), source=version.source or "")


@dataclass(frozen=True)
class VersionInfo:
    version: str
    aliases: tuple[str, ...]
    run_id: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    shipped: str | None = None


def versions(client: MlflowClient, name: str) -> list[VersionInfo]:
    """Every version, oldest first, with its aliases and its run's metrics. The aliases come from the
    registered model: `search_model_versions` leaves each version's aliases empty."""
    by_version: dict[str, list[str]] = {}
    try:
        for alias, number in client.get_registered_model(name).aliases.items():
            by_version.setdefault(str(number), []).append(alias)
    except MlflowException as exc:
        if not is_unset(exc):
            raise
        return []
    found = client.search_model_versions(f"name = '{name}'", order_by=["version_number ASC"])
    return [
        VersionInfo(
            version=str(v.version),
            aliases=tuple(sorted(by_version.get(str(v.version), []))),
            run_id=v.run_id,
            metrics=dict(client.get_run(v.run_id).data.metrics) if v.run_id else {},
            shipped=v.tags.get(SHIPPED_TAG),
        )
        for v in found
    ]


def shipped_metrics(folder: Path) -> dict[str, float]:
    """The metrics a trained version logs, read from a shipped folder's evaluation file."""
    path = folder / EVALUATION
    if not path.exists():
        return {}
    evaluation = json.loads(path.read_text())
    metrics: dict[str, float] = {}
    for key, prefix in (("synthetic_held_out", "test"), ("leave_source_out", "lso")):
        if section := evaluation.get(key):
            metrics[f"{prefix}_accuracy"] = float(section["accuracy"])
            metrics |= {f"{prefix}_recall_{style}": float(m["recall"]) for style, m in section["per_class"].items()}
    return metrics


def is_unset(exc: MlflowException) -> bool:
    """The alias, version or model does not exist (the registry answered); not an outage. MLflow's
    stores answer a missing alias with INVALID_PARAMETER_VALUE, a missing model with RESOURCE_DOES_NOT_EXIST."""
    return exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def load_predictor(resolved: ResolvedModel, threads: int = 1) -> "StylePredictor":
    """The version's model folder, read straight from its artifacts (no pyfunc wrapper on the hot
    path), its forward passes in `threads` threads."""
    from model.predictor import StylePredictor  # ONNX Runtime is imported in the process that predicts

    return StylePredictor.load(download_weights(resolved), threads)


def download_weights(resolved: ResolvedModel) -> Path:
    """The version's weights folder, downloaded from its artifacts (MLflow caches nothing: a new folder)."""
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{resolved.name}/{resolved.version}"))
    return weights_folder(local)


def promote(client: MlflowClient, name: str, version: str, alias: str) -> str | None:
    """Point `alias` at `version`; return the version it pointed at before (for a rollback)."""
    client.get_model_version(name, version)  # raises if there is no such version
    try:
        previous: str | None = str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        previous = None
    client.set_registered_model_alias(name, alias, version)
    return previous


def ensure_champion(client: MlflowClient, name: str) -> ResolvedModel:
    """Register every shipped model the registry lacks (tag `shipped` = its name in `SHIPPED`), oldest
    first, and point `champion` at the newest one unless it already points at a model that is not
    an older shipped one (a trained model promoted by hand stays)."""
    registered: dict[str, ModelVersion] = {}
    for found in client.search_model_versions(f"name = '{name}'"):
        tag = found.tags.get(SHIPPED_TAG)
        if tag in RENAMED:
            tag = RENAMED[tag]
            client.set_model_version_tag(name, found.version, SHIPPED_TAG, tag)
        if tag:
            registered[tag] = found
    versions = []
    for shipped, folder in SHIPPED:
        if shipped in registered:
            known = registered[shipped]
            versions.append(str(known.version))
            if known.run_id and "test_accuracy" not in client.get_run(known.run_id).data.metrics:
                for key, value in shipped_metrics(folder).items():  # registered before its metrics were logged
                    client.log_metric(known.run_id, key, value)
            continue
        with mlflow.start_run(run_name=f"shipped-{shipped}"):
            mlflow.log_params({"source": str(folder.relative_to(Path(__file__).parent.parent))})
            mlflow.log_metrics(shipped_metrics(folder))
            version = register(folder, name=name)
        client.set_model_version_tag(name, version, SHIPPED_TAG, shipped)
        log.info("registered the shipped model %s as %s version %s", shipped, name, version)
        versions.append(version)
    try:
        current: str | None = str(client.get_model_version_by_alias(name, "champion").version)
    except MlflowException:
        current = None
    if current is None or current in versions[:-1]:
        promote(client, name, versions[-1], "champion")
    return resolve(client, f"models:/{name}@champion")


def resolve_serving(client: MlflowClient, uri: str, name: str) -> ResolvedModel:
    """`resolve`, registering the shipped models first when `uri` is the champion alias of a
    registry that does not have it yet (a fresh machine), as the worker does at start."""
    try:
        return resolve(client, uri)
    except MlflowException:
        if uri != f"models:/{name}@champion":
            raise
    return ensure_champion(client, name)
