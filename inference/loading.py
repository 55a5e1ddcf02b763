"""What the inference server serves: a registry URI, or a model folder (SageMaker mounts the model
at /opt/ml/model), loaded once at start-up. A folder is read without importing MLflow; only the
registry path needs it."""

from dataclasses import dataclass

import yaml

from core.settings import Settings
from model.logged_folder import is_logged_model, weights_folder
from model.predictor import StylePredictor


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str
    predictor: StylePredictor

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}


def load(settings: Settings, threads: int = 1) -> LoadedModel:
    """The model the settings name, its forward passes in `threads` threads."""
    folder = settings.inference_model_dir
    if folder is None:
        from model import registry

        resolved = registry.resolve_serving(registry.configure(settings), settings.model_uri, settings.model_name)
        return LoadedModel(resolved.name, resolved.version, registry.load_predictor(resolved, threads))
    if is_logged_model(folder):  # a logged pyfunc model, as `mlflow deployments` ships it
        meta_file = folder / "registered_model_meta"
        meta = yaml.safe_load(meta_file.read_text()) if meta_file.exists() else {}
        return LoadedModel(
            str(meta.get("model_name", settings.model_name)),
            str(meta.get("model_version", "local")),
            StylePredictor.load(weights_folder(folder), threads),
        )
    return LoadedModel(settings.model_name, f"local:{folder.name}", StylePredictor.load(folder, threads))
