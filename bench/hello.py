"""The baseline: the smallest Flask view there is, served exactly like Referloop.

Every request-rate figure is divided by this one, measured in the same run under
the same gunicorn settings, because absolute numbers on a shared machine are noise.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    """A fixed short text: the cost of Flask, werkzeug and gunicorn, nothing else."""
    return "Hello, World!"
