"""The code of every registered decision pipeline, logged as MLflow's "models from code".

MLflow copies this file beside the model and runs it to load the model, so no Python object
is pickled into the model's definition; the fitted pipeline itself is the ``pipeline``
artifact. Not imported by the package.
"""

from mlflow.models import set_model

from credit_assets.core.registry import DecisionPipelineModel

set_model(DecisionPipelineModel())
