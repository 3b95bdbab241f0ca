"""Small clients for the sandbox tests: an authenticated session and paging loops."""

from __future__ import annotations

from typing import Any

import requests

from testbed.intercom import RunningSandbox


def api(sb: RunningSandbox, version: str | None = "2.15") -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sb.token}"
    if version:
        session.headers["Intercom-Version"] = version
    return session


def search_all(
    sb: RunningSandbox,
    kind: str,
    query: dict[str, Any],
    per_page: int = 50,
    sort: dict[str, str] | None = None,
    version: str = "2.15",
) -> tuple[list[dict[str, Any]], list[dict]]:
    """Every search result page by page; returns (records, raw pages)."""
    session = api(sb, version)
    records: list[dict[str, Any]] = []
    pages = []
    cursor = None
    while True:
        body: dict[str, Any] = {"query": query, "pagination": {"per_page": per_page}}
        if sort:
            body["sort"] = sort
        if cursor:
            body["pagination"]["starting_after"] = cursor
        response = session.post(f"{sb.url}/{kind}/search", json=body, timeout=30)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        records += page["data" if kind == "contacts" else kind]
        following = page["pages"].get("next")
        if not following:
            return records, pages
        cursor = following["starting_after"]


def search(
    sb: RunningSandbox, kind: str, query: dict[str, Any], version: str = "2.15", **extra: Any
) -> requests.Response:
    return api(sb, version).post(
        f"{sb.url}/{kind}/search", json={"query": query, **extra}, timeout=30
    )


def ids(records: list[dict[str, Any]]) -> list[str]:
    return sorted(record["id"] for record in records)
