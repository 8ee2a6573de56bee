#!/bin/sh
# At the first start of an empty data volume (docker-entrypoint-initdb.d): one owner per
# database, each with a password of its own, so that a component holding one database's
# password cannot open another. The superuser (POSTGRES_USER) is for this container alone.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v dagster_pw="$DAGSTER_DB_PASSWORD" \
    -v mlflow_pw="$MLFLOW_DB_PASSWORD" \
    -v decisions_pw="$DECISIONS_DB_PASSWORD" <<'SQL'
CREATE ROLE dagster LOGIN PASSWORD :'dagster_pw';
CREATE ROLE mlflow LOGIN PASSWORD :'mlflow_pw';
CREATE ROLE decisions LOGIN PASSWORD :'decisions_pw';
-- Dagster's runs, event logs and schedules, and the datasets' writer locks
CREATE DATABASE dagster OWNER dagster;
-- MLflow's experiments and model registry, and its basic-auth users
CREATE DATABASE mlflow OWNER mlflow;
-- the decision log: decisions, reviews, web-app users, API keys, audit (schema by Alembic)
CREATE DATABASE decisions OWNER decisions;
-- only its owner (and the superuser) may connect to each
REVOKE ALL ON DATABASE dagster, mlflow, decisions FROM PUBLIC;
SQL
