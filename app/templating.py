"""Template filters shared by pages and emails."""

from markupsafe import Markup, escape


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
