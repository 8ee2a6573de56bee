-- The MLflow tracking server keeps experiments and the model registry in its own database,
-- beside Dagster's (POSTGRES_DB=dagster).
CREATE DATABASE mlflow;
-- The decision log: every decision of the batch, the API and the reviewers (schema by Alembic).
CREATE DATABASE decisions;
