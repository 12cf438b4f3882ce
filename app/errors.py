"""One error page for every HTTP error, and a friendly one for a stale form."""

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

MESSAGES = {
    400: "That request could not be understood.",
    403: "You do not have access to that page.",
    404: "There is nothing at this address.",
    405: "That action is not available here.",
    429: "Too many attempts. Please wait a little and try again.",
    500: "Something went wrong on our side. Please try again in a moment.",
}


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(error):
        message = (
            "This form was open too long or in another window, so it was not sent. "
            "Go back, reload the page and send it again."
        )
        return render_template("errors/error.html", code=400, message=message), 400

    @app.errorhandler(HTTPException)
    def _http_error(error):
        message = MESSAGES.get(error.code, error.description)
        return render_template("errors/error.html", code=error.code, message=message), error.code

    @app.errorhandler(500)
    def _server_error(error):
        return render_template("errors/error.html", code=500, message=MESSAGES[500]), 500
