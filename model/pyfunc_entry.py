"""MLflow "models from code" entry: logged with the model and run at load time, it names the
pyfunc (nothing is pickled, so the model object may hold locks and an ONNX Runtime session)."""

from mlflow.models import set_model

from model.pyfunc import StyleCNN

set_model(StyleCNN())
