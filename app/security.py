"""Response headers every page gets: CSP, framing, caching, referrer policy."""

from flask import Flask, request

# No inline script or style anywhere, and nothing from other sites: htmx is
# configured through its <meta> tag, behaviour lives in static/js/app.js.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


# Added unless the view set its own; lower-cased names, to compare with what is there.
DEFAULTS = (
    ("content-security-policy", "Content-Security-Policy", CSP),
    ("x-content-type-options", "X-Content-Type-Options", "nosniff"),
    ("x-frame-options", "X-Frame-Options", "DENY"),
    ("referrer-policy", "Referrer-Policy", "same-origin"),
)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        headers = response.headers
        # One pass over the headers there are, rather than one per header to add.
        present = {key.lower() for key, _ in headers}
        headers.extend([(name, value) for key, name, value in DEFAULTS if key not in present])
        if request.endpoint == "static":
            # Versioned URLs (templating.asset_url) never change content; others may.
            versioned = "v" in request.args
            cache = "public, max-age=31536000, immutable" if versioned else "no-cache"
        else:
            # Signed-in pages and client link pages carry personal data: never cache.
            cache = "no-store"
        if "cache-control" in present:
            headers["Cache-Control"] = cache
        else:
            headers.add("Cache-Control", cache)
        return response
