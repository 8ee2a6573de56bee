"""The platform's accounts on an MLflow tracking server behind its basic-auth app.

``python -m credit_assets.scaleout.mlflow_users``, run once the server is up, with the admin's
credentials as ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` (the server creates
only its admin). Two accounts, so that no client holds more than it uses: the workers' writer
(it creates the experiments and registered models, so it may change them) and a reader for the
decision API and the web app (the server's default permission is READ, deploy/mlflow-auth.ini).
An account that exists gets its password set again: rotating one is a re-run.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.server.auth.client import AuthServiceClient

# each account's name and password come from <PREFIX>_USERNAME and <PREFIX>_PASSWORD
ACCOUNTS = ("MLFLOW_WRITER", "MLFLOW_READER")


def ensure_users(client: AuthServiceClient, accounts: dict[str, str]) -> None:
    """Create each account, or set its password if it exists."""
    from mlflow.exceptions import RestException

    for user, password in accounts.items():
        try:
            client.create_user(user, password)
        except RestException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            client.update_user_password(user, password)


def main() -> None:
    from mlflow.server.auth.client import AuthServiceClient

    accounts = {os.environ[f"{p}_USERNAME"]: os.environ[f"{p}_PASSWORD"] for p in ACCOUNTS}
    ensure_users(AuthServiceClient(os.environ["MLFLOW_TRACKING_URI"]), accounts)


if __name__ == "__main__":
    main()
