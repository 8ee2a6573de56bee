-- The MLflow tracking server keeps experiments and the model registry in its own database,
-- beside Dagster's (POSTGRES_DB=dagster).
CREATE DATABASE mlflow;
