"""A small stand-in for Grafana's HTTP API on 127.0.0.1, for the push tests.

Grafana cannot run here (no container engine, no package), so this serves the endpoints ``thonminh dashboards
push`` uses, with Grafana's paths, status codes and answer shapes (folders, data sources by uid, dashboards/db,
the alerting provisioning API), keeps what it is sent, and records every request. The real ``grafana-client``
talks to it over real HTTP.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeGrafana"]


class FakeGrafana:
    def __init__(self, token: str = "glsa_test") -> None:
        self.token = token
        self.requests: list[tuple[str, str]] = []
        self.folders: dict[str, dict[str, Any]] = {}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, dict[str, Any]] = {}
        self.groups: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]

    # -- routing -------------------------------------------------------------------------------------------
    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        m = re.fullmatch
        if g := m(r"/api/folders/([\w-]+)", path):
            return self._one(method, self.folders, g.group(1), body, "folder")
        if path == "/api/folders" and method == "POST":
            uid = body.get("uid") or f"f{len(self.folders)}"
            if uid in self.folders:
                return 409, {"message": "a folder with the same uid already exists"}
            self.folders[uid] = {
                "uid": uid,
                "title": body["title"],
                "id": len(self.folders) + 1,
                "version": 1,
            }
            return 200, self.folders[uid]
        if g := m(r"/api/datasources/uid/([\w-]+)", path):
            return self._one(method, self.datasources, g.group(1), body, "data source")
        if path == "/api/datasources" and method == "POST":
            if body["uid"] in self.datasources or any(
                d["name"] == body["name"] for d in self.datasources.values()
            ):
                return 409, {"message": "data source with the same name already exists"}
            self.datasources[body["uid"]] = self._stored_ds(body, len(self.datasources) + 1)
            return 200, {
                "datasource": self.datasources[body["uid"]],
                "id": len(self.datasources),
                "message": "Datasource added",
            }
        if g := m(r"/api/dashboards/uid/([\w-]+)", path):
            found = self.dashboards.get(g.group(1))
            return (200, found) if found else (404, {"message": "Dashboard not found"})
        if path == "/api/dashboards/db" and method == "POST":
            return self._save_dashboard(body)
        if g := m(r"/api/v1/provisioning/alert-rules/([\w-]+)", path):
            return self._rule(method, g.group(1), body)
        if path == "/api/v1/provisioning/alert-rules" and method == "POST":
            return self._rule("POST", body["uid"], body)
        if g := m(r"/api/v1/provisioning/folder/([\w-]+)/rule-groups/([\w-]+)", path):
            key = (g.group(1), g.group(2))
            if key not in self.groups:
                return 404, {"message": "rule group not found"}
            if method == "PUT":
                self.groups[key].update(interval=body["interval"])
            return 200, self.groups[key]
        return 404, {"message": f"no route {method} {path}"}

    def _one(self, method: str, store: dict[str, Any], uid: str, body: Any, what: str) -> tuple[int, Any]:
        if uid not in store:
            return 404, {"message": f"{what} not found"}
        if method == "PUT":
            if what == "data source":
                store[uid] = self._stored_ds(body, store[uid]["id"])
            else:
                store[uid].update(title=body["title"], version=store[uid]["version"] + 1)
        return 200, store[uid]

    @staticmethod
    def _stored_ds(body: dict[str, Any], ds_id: int) -> dict[str, Any]:
        stored = {k: v for k, v in body.items() if k != "secureJsonData"}
        stored.update(
            id=ds_id,
            orgId=1,
            readOnly=False,
            secureJsonFields={k: True for k in body.get("secureJsonData", {})},
        )
        return stored

    def _save_dashboard(self, body: dict[str, Any]) -> tuple[int, Any]:
        board = dict(body["dashboard"])
        uid = board["uid"]
        current = self.dashboards.get(uid)
        if current and not body.get("overwrite"):
            return 412, {"status": "version-mismatch"}
        if body.get("folderUid") not in self.folders:
            return 400, {"message": "folder not found"}
        version = current["dashboard"]["version"] + 1 if current else 1
        board.update(id=current["dashboard"]["id"] if current else len(self.dashboards) + 1, version=version)
        self.dashboards[uid] = {"dashboard": board, "meta": {"folderUid": body["folderUid"], "slug": uid}}
        return 200, {
            "status": "success",
            "uid": uid,
            "version": version,
            "id": board["id"],
            "url": f"/d/{uid}",
        }

    def _rule(self, method: str, uid: str, body: Any) -> tuple[int, Any]:
        if method == "GET":
            return (200, self.rules[uid]) if uid in self.rules else (404, {"message": "rule not found"})
        if method == "POST" and uid in self.rules:
            return 409, {"message": "rule with this uid already exists"}
        if method == "PUT" and uid not in self.rules:
            return 404, {"message": "rule not found"}
        if body["folderUID"] not in self.folders:
            return 400, {"message": "folder does not exist"}
        self.rules[uid] = dict(body, id=len(self.rules) + 1, provenance="api", updated="2026-01-01T00:00:00Z")
        self.groups.setdefault(
            (body["folderUID"], body["ruleGroup"]),
            {"title": body["ruleGroup"], "folderUid": body["folderUID"], "interval": 60, "rules": []},
        )
        return (201 if method == "POST" else 200), self.rules[uid]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                path = self.path.split("?")[0]
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                with fake._lock:
                    fake.requests.append((self.command, path))
                    if self.headers.get("Authorization") != f"Bearer {fake.token}":
                        status, answer = 401, {"message": "Unauthorized"}
                    else:
                        status, answer = fake.route(self.command, path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler
