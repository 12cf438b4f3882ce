"""Template filters shared by pages and emails."""

from datetime import date

from markupsafe import Markup, escape


def day(value: date | None) -> str:
    """A date as people write it: 21 Feb 2027 (no leading zero, any platform)."""
    if value is None:
        return ""
    return f"{value.day} {value.strftime('%b %Y')}"


def paragraphs(text: str | None) -> Markup:
    """Plain text as HTML paragraphs: escaped first, then blank lines and breaks kept."""
    if not text:
        return Markup("")
    blocks = [block for block in str(text).replace("\r\n", "\n").split("\n\n") if block.strip()]
    html = "".join(
        "<p>" + "<br>\n".join(escape(line) for line in block.strip().split("\n")) + "</p>"
        for block in blocks
    )
    return Markup(html)  # noqa: S704 (every piece was escaped above)


def register(app) -> None:
    app.jinja_env.filters["paragraphs"] = paragraphs
    app.jinja_env.filters["day"] = day
