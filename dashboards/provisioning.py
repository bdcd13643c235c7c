"""Grafana file-provisioning documents: the InfluxDB data source and the dashboard provider.

The data source is the same object ``thonminh dashboards push`` sends to Grafana's API; in the provisioning file
its URL and credentials are ``${VAR}`` references that Grafana expands from its environment.
"""

from __future__ import annotations

from typing import Any

from dashboards.alerts import FOLDER_TITLE, FOLDER_UID
from dashboards.model import DATASOURCE_UID

__all__ = ["DASHBOARDS_PATH", "DATASOURCE_NAME", "dashboard_provider", "datasource", "datasources_file"]

DATASOURCE_NAME = "thonminh InfluxDB"
#: where docker-compose.yml mounts dashboards/json inside the Grafana container
DASHBOARDS_PATH = "/var/lib/grafana/dashboards/thonminh"


def datasource(url: str, database: str, user: str | None, password: str | None) -> dict[str, Any]:
    """InfluxDB with InfluxQL over ``/query``: a 1.x database, or a DBRP-mapped bucket on 2.x/3.x with a v1 auth."""
    ds: dict[str, Any] = {
        "name": DATASOURCE_NAME,
        "uid": DATASOURCE_UID,
        "type": "influxdb",
        "access": "proxy",
        "url": url,
        "isDefault": True,
        "jsonData": {"dbName": database, "httpMode": "POST", "version": "InfluxQL", "timeInterval": "1m"},
    }
    if user:
        ds["user"] = user
        ds["secureJsonData"] = {"password": password or ""}
    return ds


def datasources_file() -> dict[str, Any]:
    ds = datasource(
        "${INFLUXDB_URL}", "${INFLUXDB_DATABASE}", "${INFLUXDB_GRAFANA_USER}", "${INFLUXDB_GRAFANA_PASSWORD}"
    )
    ds["editable"] = False
    return {"apiVersion": 1, "datasources": [ds]}


def dashboard_provider() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "thonminh",
                "orgId": 1,
                "folder": FOLDER_TITLE,
                "folderUid": FOLDER_UID,
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": DASHBOARDS_PATH, "foldersFromFilesStructure": False},
            }
        ],
    }
