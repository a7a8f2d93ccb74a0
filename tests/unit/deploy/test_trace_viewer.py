"""Docket's trace viewer is what Jaeger's query service serves as its UI: the
configuration points Jaeger at it, and the page is self-contained static files that put
trace data on the page as text only."""

from __future__ import annotations

import re

import yaml

from deploy.tools import jaeger as jaeger_tool

VIEWER = jaeger_tool.VIEWER


def test_jaegers_query_service_serves_the_viewer_as_its_ui() -> None:
    config = yaml.safe_load(jaeger_tool.config_text(4318, 16686, 16685))
    query = config["extensions"]["jaeger_query"]
    assert query["ui"] == {"assets_path": str(VIEWER)}
    assert query["http"] == {"endpoint": "127.0.0.1:16686"}
    assert (VIEWER / "index.html").is_file()


def test_the_page_links_only_its_own_files_under_jaegers_static_route() -> None:
    page = (VIEWER / "index.html").read_text(encoding="utf-8")
    # Jaeger rewrites exactly this to its base_path; the links below resolve against it.
    assert '<base href="/"' in page
    linked = re.findall(r'(?:src|href)="([^"#]+)"', page)
    assets = [link for link in linked if link not in {"/", "./"}]
    assert sorted(assets) == ["static/viewer.css", "static/viewer.js"]
    for asset in assets:
        assert (VIEWER / asset).is_file(), asset  # Jaeger serves files only under static/
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script


def test_the_script_puts_trace_data_on_the_page_as_text_only() -> None:
    script = (VIEWER / "static" / "viewer.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    # No third-party code: nothing imported or required.
    assert "import " not in script
    assert "require(" not in script
