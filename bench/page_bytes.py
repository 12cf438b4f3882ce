"""``form_page_bytes``: what a phone downloads to show the referrer's form.

The real browser (Debian's chromium, driven by Playwright) opens a real client
link served by gunicorn, with an empty cache, and the bytes are read from the
browser's own network log (Chrome DevTools Protocol ``encodedDataLength``: what
came over the wire, compressed, headers included) for the page and everything it
loads.
"""

from __future__ import annotations

from .common import database_url as fresh_database
from .common import flask_env, main, make_app, say
from .load import seed
from .servers import gunicorn

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def measure(kind: str, quick: bool) -> dict:
    from playwright.sync_api import sync_playwright

    url = fresh_database(kind, "page_bytes")
    app = make_app(url)
    token = seed(app, 1)["form_token"]
    with gunicorn("wsgi:app", flask_env(url)) as server, sync_playwright() as playwright:
        say("the form page in chromium, phone-sized, empty cache")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844})
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        responses: dict[str, dict] = {}
        sizes: dict[str, int] = {}
        failed: list[str] = []
        cdp.on(
            "Network.responseReceived",
            lambda event: responses.__setitem__(event["requestId"], event["response"]),
        )
        cdp.on(
            "Network.loadingFinished",
            lambda event: sizes.__setitem__(event["requestId"], int(event["encodedDataLength"])),
        )
        cdp.on("Network.loadingFailed", lambda event: failed.append(event["requestId"]))
        page.goto(f"{server.url}/r/{token}", wait_until="networkidle")
        if "Would you be comfortable" not in page.content():
            raise RuntimeError("the page in the browser is not the form with named questions")
        browser.close()
    if failed:
        raise RuntimeError(f"{len(failed)} requests of the form page failed")
    files = []
    for request_id, size in sizes.items():
        response = responses.get(request_id, {})
        headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
        files.append(
            {
                "url": response.get("url", "").split("?")[0].replace(server.url, ""),
                "status": response.get("status"),
                "encoding": headers.get("content-encoding", "identity"),
                "bytes": size,
            }
        )
    files.sort(key=lambda f: -f["bytes"])
    return {
        "form_page_bytes": sum(f["bytes"] for f in files),
        "details": {"requests": len(files), "files": files},
    }


if __name__ == "__main__":
    main(measure, __doc__)
