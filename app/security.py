"""Response headers every page gets: CSP, framing, caching, referrer policy."""

from flask import Flask, request

# No inline script or style anywhere, and nothing from other sites: htmx is
# configured through its <meta> tag, behaviour lives in static/js/app.js.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint == "static":
            # Versioned URLs (templating.asset_url) never change content; others may.
            versioned = "v" in request.args
            headers["Cache-Control"] = (
                "public, max-age=31536000, immutable" if versioned else "no-cache"
            )
        else:
            # Signed-in pages and client link pages carry personal data: never cache.
            headers["Cache-Control"] = "no-store"
        return response
