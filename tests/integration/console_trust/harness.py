"""A page at a given origin that loads the console's ``verify.js``, fulfilled by
Playwright (``page.route``): WebCrypto needs a secure context, which http://127.0.0.1
is and about:blank is not. Only the harness paths are fulfilled; every other request
(audit's API) goes to the network."""

from __future__ import annotations

import html
from pathlib import Path

from playwright.async_api import Page, Route

VERIFY_JS = Path(__file__).resolve().parents[3] / "services" / "console" / "static" / "verify.js"
HARNESS = "/__docket_harness__"
#: The strict policy the console serves pages under: scripts of its own origin only.
CSP = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'"


async def open_harness(page: Page, origin: str, badges: list[dict[str, str]] | None = None) -> None:
    """Open ``origin`` + the harness page, with one ``[data-docket-verify]`` element per
    entry of ``badges`` (its ``data-*`` attributes) and ``verify.js`` loaded."""
    elements = "".join(
        "<p data-docket-verify "
        + " ".join(f'data-{name}="{html.escape(value)}"' for name, value in badge.items())
        + ">not checked yet</p>"
        for badge in badges or []
    )
    page_html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>harness</title>'
        f'<script type="module" src="{HARNESS}/verify.js"></script></head>'
        f"<body><main>{elements}</main></body></html>"
    )

    async def serve(route: Route) -> None:
        if route.request.url.endswith("/verify.js"):
            await route.fulfill(
                body=VERIFY_JS.read_bytes(),
                content_type="text/javascript",
                headers={"Content-Security-Policy": CSP},
            )
        else:
            await route.fulfill(
                body=page_html, content_type="text/html", headers={"Content-Security-Policy": CSP}
            )

    await page.route(f"{origin}{HARNESS}/**", serve)
    await page.goto(f"{origin}{HARNESS}/page")
    assert await page.evaluate("window.isSecureContext")
    await page.wait_for_load_state("load")
