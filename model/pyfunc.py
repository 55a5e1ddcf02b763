"""The model as an MLflow pyfunc: image references in, the prediction contract out.

`predict(["<base64>" | "s3://..." | "https://...", ...])` answers
`[{"pred": "flat", "probs": {"3d": ..., "flat": ..., "hand_drawn": ..., "line_art": ...}}, ...]`,
which `mlflow models serve` wraps as `{"predictions": [...]}`: the same contract as the inference
server and the SageMaker backend.
"""

import base64
from pathlib import Path
from typing import Any

import mlflow
from mlflow.pyfunc import PythonModel, PythonModelContext
from pydantic import BaseModel

from model.logged_folder import ARTIFACT
from model.preprocess import ImageDecodeError


class StyleOutput(BaseModel):
    pred: str
    probs: dict[str, float]


class StyleCNN(PythonModel):
    def load_context(self, context: PythonModelContext) -> None:
        from core.allocator import keep_freed_memory
        from core.settings import get_settings
        from core.threads import model_threads
        from model.predictor import StylePredictor

        keep_freed_memory()
        self.predictor = StylePredictor.load(Path(context.artifacts[ARTIFACT]), model_threads(get_settings(), 1))

    def predict(
        self, context: PythonModelContext, model_input: list[str], params: dict[str, Any] | None = None
    ) -> list[StyleOutput]:
        from core.settings import get_settings
        from images.fetch import fetch

        settings = get_settings()
        results = self.predictor.predict([fetch(ref, settings) for ref in model_input], settings.max_image_pixels)
        for index, result in enumerate(results):
            if isinstance(result, ImageDecodeError):
                raise ValueError(f"input {index}: {result.code}: {result.message}")
        return [StyleOutput(**result.as_contract()) for result in results]  # type: ignore[union-attr]


def example_input() -> list[str]:
    """A tiny PNG, as the input example MLflow stores with the model."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 80, 40)).save(buffer, "PNG")
    return [base64.b64encode(buffer.getvalue()).decode()]


def register(model_dir: Path, *, name: str) -> str:
    """Log the weights folder as a pyfunc in the active run and register it; return the new version."""
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(Path(__file__).with_name("pyfunc_entry.py")),
        artifacts={ARTIFACT: str(model_dir)},
        input_example=example_input(),
        registered_model_name=name,
    )
    return str(info.registered_model_version)
