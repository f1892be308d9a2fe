"""The HTML part of an email as a complete document, and the unsubscribe footer.

Mail clients and spam filters expect an HTML part to be a whole document (doctype, ``html``,
``head`` with the charset and a title, ``body``); templates hold only what goes in the body.
"""

import re
from html import escape

__all__ = ["append_html", "footer_html", "html_document"]

_DOCUMENT = re.compile(r"<html[\s>]", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def html_document(body, title, lang="en"):
    """``body`` wrapped in a complete HTML document, unless the template wrote one itself."""
    if _DOCUMENT.search(body):
        return body
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{escape(lang)}">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        "</head>\n"
        f"<body>\n{body}\n</body>\n"
        "</html>\n"
    )


def append_html(body, fragment):
    """``fragment`` at the end of the body: before ``</body>`` when the body is a document."""
    ends = list(_BODY_END.finditer(body))
    if not ends:
        return f"{body}\n{fragment}"
    at = ends[-1].start()
    return f"{body[:at]}{fragment}\n{body[at:]}"


def footer_html(text, url):
    """One small paragraph linking ``text`` to ``url`` (both escaped)."""
    return (
        '<p style="font-size:12px;color:#666666;margin-top:24px">'
        f'<a href="{escape(url)}">{escape(text)}</a></p>'
    )
