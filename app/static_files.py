"""Static files compressed once, at the best level, instead of on every request.

The CSS and JavaScript are the bulk of what a phone downloads for the referrer's
form. Flask-Compress would compress them again for every request, at a level
cheap enough for that; here each file is compressed once per process (brotli at
its highest quality, gzip for older browsers) and kept in memory: a few small
files, and a changed file (new modification time) is compressed afresh.
"""

from __future__ import annotations

import gzip
import mimetypes
import os

import brotli
from flask import Flask, abort, current_app, request
from werkzeug.security import safe_join

COMPRESSIBLE = (".css", ".js")
ENCODERS = {
    "br": lambda data: brotli.compress(data, quality=11),
    "gzip": lambda data: gzip.compress(data, compresslevel=9, mtime=0),
}
_compressed: dict[tuple[str, float, str], bytes] = {}


def register(app: Flask) -> None:
    """Serve ``/static/`` through ``send_static``."""
    app.view_functions["static"] = send_static


def send_static(filename: str):
    """A static file, compressed when the browser accepts it and the file is text."""
    path = safe_join(current_app.static_folder, filename)
    encoding = request.accept_encodings.best_match(list(ENCODERS))
    if path is None or not filename.endswith(COMPRESSIBLE) or encoding is None:
        return current_app.send_static_file(filename)
    try:
        mtime = os.path.getmtime(path)
    except OSError:
        abort(404)
    key = (path, mtime, encoding)
    body = _compressed.get(key)
    if body is None:
        with open(path, "rb") as file:
            body = ENCODERS[encoding](file.read())
        _compressed[key] = body
    # The type Flask's own static view gives (werkzeug guesses it from the name too).
    response = current_app.response_class(body, mimetype=mimetypes.guess_type(filename)[0])
    response.headers["Content-Encoding"] = encoding
    response.vary.add("Accept-Encoding")
    response.set_etag(f"{int(mtime * 1000)}-{encoding}")
    return response.make_conditional(request)
